"""Config parsing and `xunjian-agent validate` / `--version`."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load_config, parse_config
from checks.options import ConfigError
from tests.agent.agentproc import ROOT

BASE = """
collector: {url: "http://127.0.0.1:8000", token: "t0k"}
host: {name: web01, labels: {unit: 某市财政局, room: "301", contact: 张三}}
state_dir: /tmp/xj-state
checks:
  - {name: root-disk, type: disk, system: os, interval: 60s, mounts: ["/"]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "agent.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_minimal_config_and_defaults(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.host == "web01" and cfg.labels["unit"] == "某市财政局" and cfg.labels["room"] == "301"
    assert cfg.token == "t0k"
    assert [c.name for c in cfg.checks] == ["root-disk"] and cfg.checks[0].interval == 60
    assert cfg.spool.max_bytes == 256 * 1024 * 1024 and cfg.spool.max_age == 7 * 86400
    assert cfg.send.batch_size == 500 and cfg.send.flush_interval == 2 and cfg.send.timeout == 10
    assert cfg.send.max_backoff == 300 and cfg.heartbeat == 30
    assert cfg.metrics.listen is None and cfg.log.level == "info"


def test_optional_sections(tmp_path: Path) -> None:
    text = BASE + """
spool: {max_bytes: 1MiB, max_age: 1d}
send: {batch_size: 100, flush_interval: 500ms, timeout: 3s, max_backoff: 1m}
heartbeat: 10s
metrics: {listen: "127.0.0.1:9910"}
log: {level: debug}
"""
    cfg = load_config(_write(tmp_path, text))
    assert cfg.spool.max_bytes == 1024 * 1024 and cfg.spool.max_age == 86400
    assert cfg.send.batch_size == 100 and cfg.send.flush_interval == 0.5 and cfg.send.max_backoff == 60
    assert cfg.heartbeat == 10 and cfg.metrics.listen == "127.0.0.1:9910" and cfg.log.level == "debug"


def test_host_name_defaults_to_hostname() -> None:
    cfg = parse_config({"collector": {"url": "http://x:1", "token": "t"}, "checks": []})
    assert cfg.host == socket.gethostname()


def test_token_file(tmp_path: Path) -> None:
    (tmp_path / "agent.token").write_text("s3cret\n")
    text = BASE.replace('token: "t0k"', f"token_file: {tmp_path / 'agent.token'}")
    assert load_config(_write(tmp_path, text)).token == "s3cret"
    missing = BASE.replace('token: "t0k"', "token_file: /nonexistent/agent.token")
    with pytest.raises(ConfigError, match=r"collector\.token_file"):
        load_config(_write(tmp_path, missing))
    assert load_config(_write(tmp_path, missing), read_token=False).token == ""


@pytest.mark.parametrize(("change", "message"), [
    (("state_dir:", "stat_dir:"), "unknown key 'stat_dir' (did you mean 'state_dir'?)"),
    (('token: "t0k"', "tokn: x"), "collector: unknown option 'tokn'"),
    (('url: "http://127.0.0.1:8000", token: "t0k"', 'url: "http://127.0.0.1:8000"'), "collector: token"),
    (('"http://127.0.0.1:8000"', '"ftp://x"'), "collector: url"),
    (("interval: 60s", "interval: soon"), "checks[0] (root-disk): not a duration"),
    (("type: disk", "type: dsik"), "checks[0] (root-disk).type"),
    (('mounts: ["/"]', "mountz: [/]"), "checks[0] (root-disk): unknown option 'mountz'"),
    (("labels: {", "labels: {x: [1], "), "host.labels"),
], ids=lambda v: v if isinstance(v, str) else v[1])
def test_errors_name_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = BASE.replace(*change)
    assert text != BASE
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, text))
    assert message in str(e.value)


@pytest.mark.parametrize(("extra", "message"), [
    ("send: {timeout: fast}", "send.timeout"),
    ("send: {batch_size: 5000}", "send: batch_size"),
    ("spool: {max_bytes: 1KiB}", "spool: max_bytes"),
    ("heartbeat: 0", "heartbeat"),
    ("metrics: {listen: nowhere}", "metrics: listen"),
    ("log: {level: loud}", "log.level"),
])
def test_section_errors(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(_write(tmp_path, BASE + extra + "\n"))


def test_duplicate_check_names_refused(tmp_path: Path) -> None:
    text = BASE + '  - {name: root-disk, type: disk, mounts: ["/tmp"]}\n'
    with pytest.raises(ConfigError, match=r"checks\[1\]\.name: duplicate check name 'root-disk'"):
        load_config(_write(tmp_path, text))


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "collector: [unclosed\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_validate_command(tmp_path: Path) -> None:
    ok = _cli("validate", str(_write(tmp_path, BASE)))
    assert ok.returncode == 0 and ok.stdout.strip() == "配置有效: 1 项检查"
    bad = _cli("validate", str(_write(tmp_path, BASE.replace("interval: 60s", "interval: 0s"))))
    assert bad.returncode == 2 and "checks[0] (root-disk).interval" in bad.stderr
    version = _cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == "xunjian-agent 0.1.0"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1.0e+300", "100000000000000000000000",
                                   "99999999999999999999999999TiB"])
def test_huge_and_non_finite_sizes_and_durations_are_a_clear_config_error(tmp_path: Path, value: str) -> None:
    """YAML's .inf once escaped as an OverflowError (a traceback from `validate`); huge ones passed."""
    for extra, where in ((f"spool: {{max_bytes: {value}}}", "spool.max_bytes: "),
                         (f"heartbeat: {value}", "heartbeat: "),
                         (f"  - {{name: web, type: http, url: 'http://127.0.0.1/', max_body: {value}}}",
                          "checks[1] (web).max_body: "),
                         (f"  - {{name: d2, type: disk, mounts: ['/'], interval: {value}}}", "checks[1] (d2): ")):
        with pytest.raises(ConfigError) as e:
            load_config(_write(tmp_path, BASE + extra + "\n"))
        assert where in str(e.value) and ("out of range" in str(e.value) or "NaN" in str(e.value)
                                          or "not a duration" in str(e.value)), str(e.value)
    bad = _cli("validate", str(_write(tmp_path, BASE + f"spool: {{max_bytes: {value}}}\n")))
    assert bad.returncode == 2 and bad.stderr.startswith("配置无效: spool.max_bytes: ")
    assert "Traceback" not in bad.stderr


def test_sizes_and_durations_up_to_the_bounds_still_load(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, BASE + "spool: {max_bytes: 1024TiB, max_age: 3650d}\nheartbeat: 1d\n"))
    assert cfg.spool.max_bytes == 1024**5 and cfg.spool.max_age == 3650 * 86400 and cfg.heartbeat == 86400


@pytest.mark.real_clock  # which modules load: the far clock's time-machine would be among them
def test_a_running_agent_loads_no_error_helpers_or_yaml_c_extension(tmp_path: Path) -> None:
    """What only wording an error needs is not loaded, nor are psutil, ctypes and tempfile for these
    checks, nor PyYAML's C extension (`safe_load` never uses it); a subprocess: this test process
    has most of them loaded already."""
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(BASE.replace("/tmp/xj-state", str(tmp_path / "state"))
                   + '  - {name: d, type: disk, mounts: ["/"]}\n  - {name: s, type: system}\n'
                   + '  - {name: p, type: process, process_name: "init*", count: "0:"}\n'
                   + f'  - {{name: l, type: log, paths: ["{tmp_path}/x.log"]}}\n', encoding="utf-8")
    code = ("import sys\nfrom agent.config import load_config\nfrom checks.runner import instantiate, run_check\n"
            "import agent.daemon\n"
            f"cfg = load_config({str(cfg)!r})\n"
            "for spec in cfg.checks: run_check(instantiate(spec), spec, 'h')\n"
            "print(sorted(m for m in ('difflib', 'psutil', 'ctypes', 'tempfile') if m in sys.modules))\n"
            "print(sorted({line.split('/')[-1].strip() for line in open('/proc/self/maps') if '_yaml' in line}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "[]"]


@pytest.mark.parametrize(("host", "message"), [
    (r'{name: "web\x0001"}', "host: name: control characters"),
    (r'{name: web01, labels: {unit: "某市\x00财政局"}}', "host: labels.unit: control characters"),
    (r'{name: web01, labels: {"ro\x07om": "301"}}', "control characters"),
    ("{name: " + "w" * 129 + "}", "host: name: 1 to 128"),
])
def test_host_text_the_collector_would_refuse_is_refused_here(tmp_path: Path, host: str, message: str) -> None:
    text = BASE.replace('host: {name: web01, labels: {unit: 某市财政局, room: "301", contact: 张三}}', f"host: {host}")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(_write(tmp_path, text))
