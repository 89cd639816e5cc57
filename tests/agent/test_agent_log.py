"""The agent's log (agent/logconfig.py): the standard `logging`, one line per event, no alarm words.

Subprocesses: the lines go to the process's stderr, set up as `xunjian-agent run` sets it up.
"""
from __future__ import annotations

import re
import subprocess
import sys

from tests.agent.agentproc import ROOT

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d xunjian-agent\[(\d+)\] (debug|info|warning|error): (.*)$")


def _stderr(code: str) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


def test_lines_levels_alarm_words_and_tracebacks() -> None:
    stdout, stderr = _stderr("""
import logging, os
from agent.logconfig import set_level, setup_logging
setup_logging()
DEBUG = logging.DEBUG
log = logging.getLogger("agent.test")
log.debug("hidden at info")
log.info("spool %d results, collector %s", 3, "http://c:8000")
log.warning("reply: ERROR 503 WARNING")
set_level("debug")
print(log.isEnabledFor(DEBUG), os.getpid())
log.debug("shown at debug")
log.error("bad format %d", "x")  # never raises in the caller
set_level("error")
log.warning("hidden at error")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("turn failed: %s", "SEVERE")
""")
    enabled, pid = stdout.split()
    assert enabled == "True"
    lines = stderr.splitlines()
    entries = [LINE.match(line) for line in lines if LINE.match(line)]
    assert {m.group(1) for m in entries} == {pid}
    assert [(m.group(2), m.group(3)) for m in entries] == [
        ("info", "spool 3 results, collector http://c:8000"),
        ("warning", "reply: error 503 warnING"),
        ("debug", "shown at debug"),
        ("error", "bad format %d ('x',)"),
        ("error", "turn failed: severe"),
    ]
    tail = lines[lines.index(entries[-1].group(0)) + 1:]
    assert tail[0] == "Traceback (most recent call last):" and tail[-1] == "ZeroDivisionError: division by zero"
    assert not re.search(r"ERROR|WARN|SEVERE", stderr)


def test_libraries_records_come_out_as_the_agents_lines() -> None:
    """For the poller: paramiko's records come out as the agent's lines, at the agent's level."""
    _, stderr = _stderr("""
import logging
from agent.logconfig import set_level, setup_logging
setup_logging()
logging.getLogger("paramiko.transport").info("hidden at info? no: shown")
logging.getLogger("paramiko.transport").debug("hidden")
logging.getLogger("paramiko.transport").error("Connection ERROR %s", "x")
set_level("warning")
logging.getLogger("paramiko.transport").info("hidden at warning")
""")
    assert [LINE.match(line).group(2, 3) for line in stderr.splitlines()] == [  # type: ignore[union-attr]
        ("info", "hidden at info? no: shown"),
        ("error", "Connection error x"),
    ]
