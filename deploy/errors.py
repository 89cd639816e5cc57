"""Errors the rollout reports per host, with a message an operator can act on (zh-CN)."""
from __future__ import annotations


class DeployError(Exception):
    """A failure that stops the action on one host (or the whole run, before any host)."""
