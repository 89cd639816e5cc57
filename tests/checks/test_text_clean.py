"""A NUL, another control byte or an undecodable byte never leaves the agent: real plugins, real
log files, the real `xunjian-agent check --json`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from checks.base import StateStore
from checks.command import CommandCheck, CommandOptions
from checks.log import LogCheck
from checks.model import Status
from checks.options import build
from checks.runner import run_check
from checks.spec import parse_spec
from checks.text import REPLACEMENT, clean_text, clean_value, decode_text

ROOT = Path(__file__).resolve().parents[2]


def _wire(obj: object) -> str:
    """What the agent sends: JSON, which must also encode as UTF-8 (a lone surrogate cannot)."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    return text


def _assert_clean(text: str) -> None:
    assert "\\u0000" not in text and "\x00" not in text
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@pytest.mark.parametrize(("raw", "clean"), [
    ("OK - build\x00id 7", f"OK - build{REPLACEMENT}id 7"),
    ("bell\x07 esc\x1b[31m", f"bell{REPLACEMENT} esc{REPLACEMENT}[31m"),
    ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ("dos line\r\nnext", "dos line\nnext"),
    ("lone\rcr", f"lone{REPLACEMENT}cr"),
    ("file \udcff.log", f"file {REPLACEMENT}.log"),  # surrogateescape of an undecodable byte
    ("bad \ud800 pair", f"bad {REPLACEMENT} pair"),
    ("凭证发送失败 ✓", "凭证发送失败 ✓"),
])
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_clean_value_walks_keys_lists_and_leaves_numbers() -> None:
    value = {"a\x00": ["x\x00", 1, None, {"k": "\ud800"}], "n": 2.5}
    assert clean_value(value) == {f"a{REPLACEMENT}": [f"x{REPLACEMENT}", 1, None, {"k": REPLACEMENT}], "n": 2.5}


def test_decode_text_never_fails_and_cleans() -> None:
    assert decode_text(b"OK \x00 \xff\xfe\xfd") .startswith(f"OK {REPLACEMENT} ")
    assert decode_text("磁盘正常".encode("gb18030")) == "磁盘正常"


def test_real_plugin_printing_nul_through_the_command_check() -> None:
    spec = parse_spec({"name": "build", "type": "command", "shell": True,
                       "command": r"printf 'OK - build\000id 7|x=1\n'; printf 'err\000\n' >&2"}, "test")
    check = CommandCheck(spec.options)
    result = run_check(check, spec, "web01")
    assert result.status == Status.OK
    assert result.summary == f"OK - build{REPLACEMENT}id 7"
    assert result.details["stderr"] == f"err{REPLACEMENT}\n"
    _assert_clean(_wire(result.to_dict()))


def test_plugin_output_with_a_nul_in_long_text_and_perfdata_label() -> None:
    out = CommandCheck(build(CommandOptions, {
        "shell": True, "command": r"printf 'WARNING - x\nline\001two\000\n|a\000b=3\n'; exit 1"}, "t")).run()
    assert out.status == Status.WARNING
    _assert_clean(_wire({"s": out.summary, "d": out.details, "m": [m.to_dict() for m in out.metrics]}))


def test_log_file_with_nul_bytes_and_an_undecodable_name(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    good = logs / "app.log"
    odd = Path(os.fsdecode(bytes(logs) + b"/app-\xff.log"))  # a name that is not UTF-8
    for path in (good, odd):
        path.write_bytes(b"2026-11-25 10:00:00 ERROR voucher \x00\x00\x00 binary \x01\x02 id=9\n")
    spec = parse_spec({"name": "voucher-log", "type": "log", "paths": [str(logs / "*.log")], "from": "start",
                       "patterns": {"critical": ["ERROR"]}}, "test")
    check = LogCheck(spec.options, state=StateStore(tmp_path / "state.json"))
    result = run_check(check, spec, "web01")
    assert result.status == Status.CRITICAL
    lines = [s["line"] for s in result.details["samples"]]
    assert len(lines) == 2
    assert all(f"voucher {REPLACEMENT * 3} binary {REPLACEMENT * 2} id=9" in line for line in lines)
    _assert_clean(_wire(result.to_dict()))
    # the positions of both files were saved (the odd name too): nothing is read twice
    again = run_check(check, spec, "web01")
    assert again.status == Status.OK and again.metric("critical_events").value == 0  # type: ignore[union-attr]


def test_agent_check_json_never_prints_a_nul(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "collector": {"url": "http://127.0.0.1:9", "token": "t"}, "host": {"name": "web01"},
        "state_dir": str(tmp_path / "state"),
        "checks": [{"name": "build", "type": "command", "shell": True, "command": r"printf 'OK - build\000id 7'"}],
    }), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--config", str(cfg), "--json"],
                          capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")
    _assert_clean(text)
    assert json.loads(text)[0]["summary"] == f"OK - build{REPLACEMENT}id 7"
