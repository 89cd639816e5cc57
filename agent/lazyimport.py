"""Standard modules that modules the agent needs import, but that the agent's own run never uses.

`dataclasses` imports `inspect` (and with it ast, dis, tokenize...) only to write a signature into
the docstring of a dataclass that has none; `urllib.parse` imports `ipaddress` for bracketed IPv6
hosts; `traceback` and `linecache` import `textwrap` and `tokenize` to format tracebacks. Together
about 1 MiB of resident memory for the life of the daemon. `defer()` puts a stand-in into
sys.modules before those imports run: `import inspect` then costs nothing, and the first attribute
anyone asks of it imports the real module, which takes the stand-in's place. So behaviour is
unchanged; only memory is saved while nobody uses them (every dataclass on the agent's path has a
docstring for that reason; tests/agent/test_lazyimport.py holds a running agent to it).
"""
from __future__ import annotations

import sys
import threading
import types
from typing import Any

DEFERRED = ("inspect", "ipaddress", "textwrap", "tokenize")

_lock = threading.RLock()  # importing one may touch another


class _Deferred(types.ModuleType):
    """Stands in sys.modules for a module not imported yet; imports it at the first attribute
    asked for and from then on holds the real module's attributes."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        with _lock:
            if sys.modules.get(name) is self:
                del sys.modules[name]
            import importlib

            real = importlib.import_module(name)
            self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def defer(*names: str) -> None:
    """Import `names` only when something first uses them (`import name` alone does not)."""
    from importlib.machinery import ModuleSpec

    for name in names:
        if name not in sys.modules:
            stand_in = _Deferred(name)
            stand_in.__spec__ = ModuleSpec(name, None)
            sys.modules[name] = stand_in
