"""One process per state directory: two agents (or pollers) sharing a spool would send results twice."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)


def lock_state_dir(state_dir: Path, filename: str, what: str) -> tuple[bool, Optional[int]]:
    """(ok, fd): ok is False when another `what` holds the lock; fd keeps the lock while open."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return True, None
    path = state_dir / filename
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        log.warning("cannot create %s (%s); running without the state_dir lock", path, e)
        return True, None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        log.error("another %s already runs with state_dir %s", what, state_dir)
        return False, None
    return True, fd
