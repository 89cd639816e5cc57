"""The umask child processes of checks get (-1: the process's own). The agent keeps its own
files private with umask 077 and hands plugins the umask it was started with
(agent/filemodes.py). A module of its own so that setting it loads nothing else."""
from __future__ import annotations

CHILD_UMASK = -1
