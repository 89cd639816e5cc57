"""What the rollout writes on a host: the agent's YAML config and its systemd unit."""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from deploy.inventory import DEFAULT_PATHS, Collector, Host, Paths

UNIT_TEMPLATE = Path(__file__).resolve().parent / "systemd" / "xunjian-agent.service"


def agent_config(host: Host, collector: Collector, paths: Paths, token_file: str | None = None) -> str:
    """The agent config for `host`; the token lives in its own 0600 file, never in this one."""
    doc = {
        "collector": {"url": collector.agent_url, "token_file": token_file or paths.token_file},
        "host": {"name": host.name, "labels": dict(host.labels)},
        "state_dir": paths.state,
        **host.agent,
        "checks": host.checks,
    }
    head = "# Written by xunjian-deploy: edit the inventory and re-run, not this file.\n"
    return head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=False)


def agent_unit(paths: Paths) -> str:
    """The hardened unit with the three install paths moved where the inventory puts them."""
    text = UNIT_TEMPLATE.read_text(encoding="utf-8")
    for key in ("install", "config", "state"):
        text = text.replace(DEFAULT_PATHS[key], getattr(paths, key))
    return text


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
