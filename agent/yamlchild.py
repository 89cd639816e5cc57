"""Parse the daemon's YAML config in a short-lived child interpreter, so PyYAML never enters its memory.

Unloading PyYAML after parsing (agent/config.py, read_yaml) takes its modules out of sys.modules,
but the pages their objects were spread over stay resident between the daemon's own objects
(about 0.5 MiB for the life of the agent). The child parses with the same pure-Python SafeLoader
and hands the data back marshalled (plain dicts, lists, strings and numbers, as a config is); what
marshal cannot carry (a YAML timestamp, say) and any trouble starting the child make the caller
parse in-process as before, so the parsed data is the same either way.
"""
from __future__ import annotations

import marshal
import os
import sys
from typing import Any, Optional

# stdin: marshal of (sys.path, text); stdout: marshal of ("ok", data) or ("yaml-error", message)
# or ("unsupported", None).
_CHILD = """
import marshal, sys
path, text = marshal.loads(sys.stdin.buffer.read())
sys.path[:] = path
sys.modules["yaml._yaml"] = None  # the pure-Python SafeLoader, as agent/config.py parses in-process
import yaml
try:
    reply = ("ok", yaml.safe_load(text))
except yaml.YAMLError as e:
    reply = ("yaml-error", str(e))
try:
    out = marshal.dumps(reply)
except Exception:
    out = marshal.dumps(("unsupported", None))
sys.stdout.buffer.write(out)
"""


def parse_in_child(text: str) -> Optional[tuple[str, Any]]:
    """("ok", data) or ("yaml-error", message) from a child interpreter; None when the child could
    not do it (no interpreter to start, no PyYAML there, a value marshal cannot carry)."""
    if not sys.executable or not hasattr(os, "posix_spawn"):
        return None
    rin, win = os.pipe()
    rout, wout = os.pipe()
    pid = None
    status = -1
    try:
        pid = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", _CHILD], os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, rin, 0), (os.POSIX_SPAWN_DUP2, wout, 1),
                                           (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
        os.close(rin)
        os.close(wout)
        rin = wout = -1
        with open(win, "wb") as f:  # closes win: the child sees the end of its input
            win = -1
            f.write(marshal.dumps((list(sys.path), text)))
        with open(rout, "rb") as f:
            rout = -1
            data = f.read()
    except OSError:
        return None
    finally:
        for fd in (rin, win, wout, rout):
            if fd >= 0:
                os.close(fd)
        if pid is not None:
            _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    try:
        kind, value = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    if kind not in ("ok", "yaml-error"):
        return None
    return kind, value
