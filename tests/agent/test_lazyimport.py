"""Modules the agent defers (agent/lazyimport.py): never loaded by a running agent, real when used.

Subprocesses: this test process has all of them loaded already.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.agent.agentproc import ROOT
from tests.conftest import free_port


def _run(code: str, timeout: float = 60) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                         cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_running_agent_never_loads_the_deferred_modules(tmp_path: Path) -> None:
    """The agent runs turns of disk, system, process, log and dirsize checks against a collector
    that refuses connections (so the send-failure path runs too); the deferred modules stay
    stand-ins: no dataclass on its path lacks a docstring, nothing formats a traceback. (This
    .venv's .pth hooks import some at start-up, as no release's interpreter does: those are left
    out.) Nor are `logging` (agent/logsetup.py writes its lines), `socket` and `selectors` (plain
    http goes through `_socket`) and PyYAML (parsed in a child) ever loaded."""
    port = free_port()  # closed again: connections are refused
    log = tmp_path / "app.log"
    log.write_text("start\n", encoding="utf-8")
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"""
collector: {{url: "http://127.0.0.1:{port}", token: "t"}}
host: {{name: lazy}}
state_dir: {tmp_path / "state"}
checks:
  - {{name: d, type: disk, interval: 1s, mounts: ["/"]}}
  - {{name: s, type: system, interval: 1s}}
  - {{name: p, type: process, interval: 1s, process_name: "python*", count: "0:"}}
  - {{name: l, type: log, interval: 1s, paths: ["{log}"], patterns: {{critical: [ERROR]}}}}
  - {{name: z, type: dirsize, interval: 1s, path: "{tmp_path}"}}
""", encoding="utf-8")
    code = f"""
import os, sys, threading, time
from agent.lazyimport import DEFERRED
print(" ".join(n for n in DEFERRED if n in sys.modules) or "-", flush=True)

def report():
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not os.path.exists({str(tmp_path / "state" / "checks" / "z.json")!r}):
        time.sleep(0.2)
    time.sleep(1.5)  # a second turn, and the sender's first failures
    print(" ".join(f"{{n}}={{type(sys.modules.get(n)).__name__}}" for n in DEFERRED), flush=True)
    print(" ".join(n for n in ("logging", "socket", "selectors", "yaml") if n in sys.modules) or "-", flush=True)
    os._exit(0)

threading.Thread(target=report, daemon=True).start()
from agent.cli import main
main(["run", "--config", {str(cfg)!r}])
"""
    first, states, never = _run(code).splitlines()
    preloaded = first.split()
    expected = [f"{n}=_Deferred" for n in ("inspect", "ipaddress", "textwrap", "tokenize") if n not in preloaded]
    assert len(expected) >= 3
    assert [s for s in states.split() if s.split("=")[0] not in preloaded] == expected
    assert never == "-"


def test_a_deferred_module_is_the_real_one_at_first_use() -> None:
    code = """
import sys
from agent.lazyimport import defer
defer("textwrap", "inspect", "tokenize")
import textwrap
import dataclasses

@dataclasses.dataclass
class NoDoc:
    x: int

text = textwrap.dedent("  a")
real = sys.modules["textwrap"]  # the stand-in gave way at the first use
print(text, type(real).__name__, real.__file__.endswith("textwrap.py"))
print(NoDoc.__doc__)  # dataclasses asked inspect for the signature: the real inspect answered
from inspect import signature
print(signature(lambda a, b=1: None), type(sys.modules["inspect"]).__name__)
import traceback
try:
    1 / 0
except ZeroDivisionError:
    print(traceback.format_exc().splitlines()[-1])
"""
    assert _run(code).splitlines() == [
        "a module True",
        "NoDoc(x: int)",
        "(a, b=1) module",
        "ZeroDivisionError: division by zero",
    ]
