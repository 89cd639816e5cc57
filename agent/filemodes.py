"""Modes of the agent's own files, whatever the umask it was started with.

The spool holds log samples and the state files the positions in customers' logs: they are
private to the agent's user. So the agent runs with umask 077 (files 0600, directories 0700),
and files an older agent or an operator left wider lose their bits for others and group write
(0644 becomes 0640: a group given read access keeps it, nobody else). Plugins and tools the
checks run get the umask the agent was started with (checks/childmask.py).
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Union

from checks import childmask

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
KEEP = 0o7750  # what tighten() leaves: everything but others' bits and group write


def private_umask() -> int:
    """Set umask 077 for this process; returns the previous one, which child processes keep."""
    previous = os.umask(PRIVATE_UMASK)
    childmask.CHILD_UMASK = previous
    return previous


def tighten(path: Union[str, Path]) -> None:
    """Drop others' bits and group write from a file or directory the agent owns (missing: nothing)."""
    try:
        st = os.stat(path)
    except OSError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & ~KEEP and st.st_uid == os.geteuid():
        try:
            os.chmod(path, mode & KEEP)
        except OSError as e:
            log.warning("cannot restrict the mode of %s (%o): %s", path, mode, e)
            return
        log.info("mode of %s restricted from %o to %o", path, mode, mode & KEEP)


def check_token_file(path: Union[str, Path]) -> None:
    """The token is the host's credential: restrict a token file others can read, or say so."""
    try:
        st = os.stat(path)
    except OSError:
        return
    if stat.S_IMODE(st.st_mode) & 0o077 & ~0o040:
        if st.st_uid == os.geteuid():
            tighten(path)
        else:
            log.warning("token_file %s is readable by other users (mode %o); it should be 0600 or 0640",
                        path, stat.S_IMODE(st.st_mode))
