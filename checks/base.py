"""What every check is: options in, an Outcome out, state kept through a StateStore.

A check gets its data, judges it against thresholds and words the result; it never raises into
the agent (the runner turns any exception into UNKNOWN) and never pushes into globals.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional

from checks.model import Metric, Status


@dataclass
class Outcome:
    status: Status
    summary: str
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class StateStore:
    """Where a check remembers things between runs (log positions, previous sizes...).

    Saved atomically (write a temporary file, fsync, rename) so a crash or a full disk leaves the
    previous state intact. A read-only store is what `xunjian-agent check` uses: it reads the
    running agent's state but never moves it.
    """

    def __init__(self, path: Optional[Path], *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._memory: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        if self.path is None:
            return dict(self._memory)
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A corrupt state file must not stop the check; it starts afresh (from the end of logs).
            return {}

    def save(self, data: dict[str, Any]) -> None:
        if self.readonly:
            return
        if self.path is None:
            self._memory = dict(data)
            return
        atomic_write(self.path, json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def atomic_write(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Check:
    """Base class: subclasses set `type`, `Options` (a dataclass) and implement `run()`."""

    type: ClassVar[str] = ""
    Options: ClassVar[type] = object

    def __init__(self, options: Any, *, state: Optional[StateStore] = None) -> None:
        self.options = options
        self.state = state if state is not None else StateStore(None)

    def run(self) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release sockets or files held between runs."""
