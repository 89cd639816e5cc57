"""Central configuration on the agent side (issue 23): the parts without an agent process, then
one real agent process per test against a real HTTP stand-in of the collector."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.central import (
    MAX_BYTES,
    CentralConfig,
    CentralState,
    fetch,
    inline_secret,
    merge,
    parse_document,
    save,
)
from agent.config import DEFAULT_CENTRAL_ALLOW, parse_config
from checks.options import ConfigError
from tests.agent.agentproc import ROOT, AgentProc, disk_check, spool_rows, write_config
from tests.agent.central_standin import CentralStandin


def _local(tmp_path: Path, url: str = "http://127.0.0.1:9", checks: Any = None, **collector: Any) -> Any:
    return parse_config({"collector": {"url": url, "token": "test-token", "central": True, **collector},
                         "host": {"name": "web01"}, "state_dir": str(tmp_path / "state"),
                         "checks": checks if checks is not None else [disk_check("local-disk")]})


def _doc(version: str, checks: list[dict[str, Any]]) -> CentralConfig:
    return CentralConfig(version, checks, {c["name"]: f"base@v{version.lstrip('v')}" for c in checks})


# -- config keys --------------------------------------------------------------------------------


def test_central_is_off_by_default_and_allow_defaults_to_types_without_programs(tmp_path: Path) -> None:
    cfg = parse_config({"collector": {"url": "http://c:1", "token": "t"}, "state_dir": str(tmp_path)})
    assert cfg.collector.central is False
    assert cfg.collector.allowed_central_types == DEFAULT_CENTRAL_ALLOW
    assert not {"command", "sql", "mq"} & set(DEFAULT_CENTRAL_ALLOW)


@pytest.mark.parametrize(("collector", "message"), [
    ({"central": "yes"}, "collector.central: expected true or false"),
    ({"central_allow": ["disk", "shell"]}, "'shell' is not a check type"),
    ({"central_allow": "disk"}, None),  # a single type is a list of one, as elsewhere
    ({"central_alow": ["disk"]}, "unknown option 'central_alow' (did you mean 'central_allow'?)"),
    ({"central_allow": [1]}, "collector: central_allow: '1' is not a check type"),
])
def test_central_keys_refused_with_a_clear_message(tmp_path: Path, collector: dict[str, Any],
                                                   message: Any) -> None:
    data = {"collector": {"url": "http://c:1", "token": "t", **collector}, "state_dir": str(tmp_path)}
    if message is None:
        assert parse_config(data).collector.allowed_central_types == ("disk",)
        return
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert message in str(e.value)


# -- merging and refusing -----------------------------------------------------------------------


def test_merge_local_wins_and_sources_are_kept(tmp_path: Path) -> None:
    local = _local(tmp_path, checks=[disk_check("shared", interval="7s"), disk_check("local-disk")])
    merged = merge(local, _doc("v3", [disk_check("shared", interval="99s"), disk_check("tmpl-disk")]))
    by_name = {c.name: c for c in merged.checks}
    assert set(by_name) == {"shared", "local-disk", "tmpl-disk"}
    assert by_name["shared"].interval == 7  # the local check of that name runs
    assert merged.sources == {"tmpl-disk": "base@v3"} and merged.central_version == "v3"
    assert merged.token == local.token


@pytest.mark.parametrize(("check", "message"), [
    ({"name": "x", "type": "command", "command": ["/bin/true"]}, "检查类型 command 不在本机 collector.central_allow"),
    ({"name": "x", "type": "sql", "url": "sqlite:///x.db", "query": "select 1"}, "检查类型 sql"),
    ({"name": "x", "type": "mq", "source": "rabbitmqctl"}, "检查类型 mq"),
    ({"name": "x", "type": "http", "url": "http://ops:s3cret@10.0.0.1/health"},
     "central checks[0] (x).url: 模板中不得"),
    ({"name": "x", "type": "http", "url": "http://10.0.0.1/", "headers": {"Authorization": "Basic eDp5"}},
     "headers.Authorization: 模板中不得"),
    ({"name": "x", "type": "cert", "files": ["/etc/seal.p12"], "password": "123456"}, ".password: 模板中不得"),
    ({"name": "x", "type": "disk", "interval": "0s"}, "central checks[0] (x).interval: at least 1s"),
    ({"name": "x", "type": "disk", "mounts": ["/"], "bogus": 1}, "unknown option 'bogus'"),
    ({"name": "x", "type": "rootkit"}, "is not a check type"),
])
def test_merge_refuses(tmp_path: Path, check: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        merge(_local(tmp_path), _doc("v2", [check]))
    assert message in str(e.value)


def test_references_to_secrets_are_fine_and_allow_opens_a_type(tmp_path: Path) -> None:
    cert = {"name": "seal", "type": "cert", "files": ["/etc/seal.p12"], "password_file": "/etc/xunjian/p12.pw"}
    assert merge(_local(tmp_path), _doc("v1", [cert])).sources == {"seal": "base@v1"}
    cmd = {"name": "x", "type": "command", "command": ["/bin/true"]}
    assert inline_secret(cmd, "c") is None
    assert merge(_local(tmp_path, central_allow=["disk", "command"]), _doc("v1", [cmd])).sources
    assert inline_secret({"url": "amqp://guest@h/"}, "c") is None  # a user without a password
    assert inline_secret({"x": ["-----BEGIN PRIVATE KEY-----\nMII"]}, "c") == "c.x[0]"


@pytest.mark.parametrize(("body", "message"), [
    (b"not json{", "不是有效的 JSON"),
    (b"\xff\xfe garbage", "不是 UTF-8"),
    (b"[]", "应为 JSON 对象"),
    (b'{"version": 5, "checks": []}', "version 无效"),
    (b'{"version": "v 1", "checks": []}', "version 无效"),
    (b'{"version": "' + b"v" * 65 + b'", "checks": []}', "version 无效"),
    (b'{"version": "v1", "checks": "disk"}', "checks 应为"),
    (b'{"version": "v1", "checks": [1]}', "checks 应为"),
    (b'{"version": "v1", "checks": [], "sources": ["a"]}', "sources 应为"),
    (b'{"version": "v1", "checks": [{"name": "a\\u0000b"}]}', "control characters"),
    (b'{"version": "v1", "checks": [{"name": "a\x00b"}]}', "不是有效的 JSON"),
    (b'{"version": "v1", "checks": [{"name": "\\ud800"}]}', "lone surrogates"),
    (b'{"version": "v1", "checks": [{"interval": NaN}]}', "不是有效的 JSON"),
    (b'{"version": "v1", "checks": [{"interval": 1e999}]}', "不是有效的 JSON"),
    (b'{"version": "v1", "checks": [{"interval": 99999999999999999999999}]}', "number out of range"),
    (b'{"version": "v1", "checks": [' + b"[" * 100000 + b"]" * 100000 + b"]}", "不是有效的 JSON"),
    (b'{"version": "v1", "checks": [], "x": "' + b"a" * MAX_BYTES + b'"}', "中央配置过大"),
])
def test_hostile_documents_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_document(body)
    assert message in str(e.value)


def test_refusal_is_one_line_bounded_and_warned_once_per_version() -> None:
    state = CentralState()
    assert state.refuse("v2", "a\nb " + "x" * 5000) is True
    assert state.refuse("v2", "again") is False
    block = state.block()["config_refused"]
    assert block["version"] == "v2" and "\n" not in block["error"] and len(block["error"]) <= 1024
    assert state.known == "v2"  # the next poll names it: 304 until there is a newer one
    state.applied("v3")
    assert state.block() == {"config_version": "v3", "config_refused": None}


def test_kept_version_is_private_and_replaced_atomically(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        save(tmp_path, _doc("v1", [disk_check("a")]))
        save(tmp_path, _doc("v2", [disk_check("b")]))
    finally:
        os.umask(old)
    path = tmp_path / "central.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert parse_document(path.read_bytes()).version == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["central.json"]  # no temporary file left


# -- one GET against a real HTTP server ------------------------------------------------------------


@pytest.fixture
def central():
    s = CentralStandin().start()
    yield s
    s.stop()


def test_fetch_304_when_unchanged_and_hostile_replies(tmp_path: Path, central: CentralStandin) -> None:
    cfg = _local(tmp_path, central.url)
    central.set_doc("v1", [disk_check("tmpl-disk")])
    p = fetch(cfg, None, lambda: None)
    assert p.kind == "new" and p.doc is not None and p.doc.version == "v1"
    assert fetch(cfg, "v1", lambda: None).kind == "unchanged"
    assert central.config_gets()[-1] == {**central.config_gets()[-1], "if_none_match": '"v1"', "code": 304}
    central.raw, central.raw_etag = b"x" * (MAX_BYTES + 4096), "v9"
    p = fetch(cfg, "v1", lambda: None)
    assert (p.kind, p.version) == ("refused", "v9") and "过大" in p.error
    central.raw, central.raw_etag = b'{"version": "v1", "checks": [{"name": "\\u0000"}]}', None
    p = fetch(cfg, "v1", lambda: None)
    assert p.kind == "refused" and p.version is None and "control characters" in p.error
    central.raw, central.doc = None, None  # a collector without templates: 404
    p = fetch(cfg, "v1", lambda: None)
    assert (p.kind, p.error) == ("unavailable", "http 404")
    central.tokens = {"other"}
    assert fetch(cfg, "v1", lambda: None).kind == "auth"
    central.stop()
    assert fetch(cfg, "v1", lambda: None).kind == "unavailable"


def test_a_reply_that_trickles_in_is_given_up(tmp_path: Path) -> None:
    """A byte every 0.1 s never trips the per-read socket timeout; the poll gives up at twice
    send.timeout all the same, and leaves the running configuration alone."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():
            try:
                conn.sendall(b" ")
            except OSError:
                break
            time.sleep(0.1)
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    cfg = parse_config({"collector": {"url": f"http://127.0.0.1:{srv.getsockname()[1]}", "token": "t",
                                      "central": True},
                        "state_dir": str(tmp_path), "send": {"timeout": "1s"}})
    t0 = time.monotonic()
    try:
        p = fetch(cfg, None, lambda: None)
    finally:
        stop.set()
        srv.close()
    assert p.kind == "unavailable" and "TimeoutError" in p.error
    assert 1.9 <= time.monotonic() - t0 < 5


# -- the real agent process ---------------------------------------------------------------------


def _agent(tmp_path: Path, url: str, checks: list[dict[str, Any]], heartbeat: str = "1s",
           **collector: Any) -> AgentProc:
    cfg = write_config(tmp_path / "agent.yaml", url, tmp_path / "state", checks, heartbeat=heartbeat,
                       collector={"central": True, **collector})
    return AgentProc(cfg, tmp_path / "agent.log")


def _wait(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _tmpl_results(central: CentralStandin, name: str) -> int:
    with central.lock:
        return sum(1 for r in central.results.values() if r["check"] == name)


@pytest.mark.slow
def test_forbidden_type_refused_and_last_good_keeps_running(tmp_path: Path, central: CentralStandin) -> None:
    marker = tmp_path / "ran"
    central.set_doc("v1", [disk_check("tmpl-disk")])
    agent = _agent(tmp_path, central.url, [disk_check("local-disk", interval="60s")],
                   central_allow=["disk", "log"]).start()
    try:
        assert agent.wait_log("central configuration v1 applied")
        assert _wait(lambda: _tmpl_results(central, "tmpl-disk") >= 1)
        central.set_doc("v2", [disk_check("tmpl-disk"),
                               {"name": "evil", "type": "command", "interval": "1s",
                                "command": ["/bin/sh", "-c", f"touch {marker}"]}])
        assert agent.wait_log("central configuration v2 refused")
        assert _wait(lambda: (central.last_block("web01") or {}).get("config_refused") is not None)
        block = central.last_block("web01")
        assert block is not None and block["config_version"] == "v1"
        assert block["config_refused"]["version"] == "v2"
        assert "检查类型 command 不在本机 collector.central_allow (disk, log)" in block["config_refused"]["error"]
        before = _tmpl_results(central, "tmpl-disk")
        assert _wait(lambda: _tmpl_results(central, "tmpl-disk") >= before + 3)  # v1 keeps running
        n = len(central.config_gets())
        assert _wait(lambda: len(central.config_gets()) >= n + 3)  # three more heartbeats
        assert [g["code"] for g in central.config_gets()[-2:]] == [304, 304]  # it named v2: not sent again
        assert agent.log().count("central configuration v2 refused") == 1
        assert parse_document((tmp_path / "state" / "central.json").read_bytes()).version == "v1"
        # v2 withdrawn (a rollback): v1 is served again; the refusal is no longer reported and the
        # polls name v1 again, so they are answered 304 rather than with the whole body every heartbeat.
        central.set_doc("v1", [disk_check("tmpl-disk")])
        assert _wait(lambda: (central.last_block("web01") or {}).get("config_refused", 0) is None, 15)
        n = len(central.config_gets())
        assert _wait(lambda: len(central.config_gets()) >= n + 2)
        assert [(g["if_none_match"], g["code"]) for g in central.config_gets()[-2:]] == [('"v1"', 304)] * 2
        assert agent.log().count("central configuration v1 applied") == 1  # it ran all along
        assert agent.alive()
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    assert not marker.exists(), "a refused command ran"


@pytest.mark.slow
def test_collector_down_agent_restarts_on_the_last_good_version(tmp_path: Path, central: CentralStandin) -> None:
    central.set_doc("v1", [disk_check("tmpl-disk")])
    agent = _agent(tmp_path, central.url, [disk_check("local-disk", interval="60s")]).start()
    try:
        assert agent.wait_log("central configuration v1 applied")
        # Unchanged: every later poll names v1 and gets a 304; nothing is applied again.
        assert _wait(lambda: sum(g["code"] == 304 for g in central.config_gets()) >= 2)
        assert all(g["if_none_match"] == '"v1"' for g in central.config_gets()[1:])
        assert agent.log().count("applied") == 1
        assert agent.terminate() == 0
        port = central.port
        central.stop()
        state = tmp_path / "state"
        agent.start()  # the collector is away
        assert agent.wait_log("running central configuration v1 kept from the last run")
        # local-disk runs once a minute: more rows are tmpl-disk's, which only v1 brings
        assert _wait(lambda: (state / "spool.db").exists() and spool_rows(state) >= 3)
        back = CentralStandin(port)
        back.set_doc("v1", [disk_check("tmpl-disk")])
        back.start()
        try:
            assert _wait(lambda: (back.last_block("web01") or {}).get("config_version") == "v1")
            assert _wait(lambda: len(back.config_gets()) >= 1)
            assert back.config_gets()[0]["if_none_match"] == '"v1"' and back.config_gets()[0]["code"] == 304
            assert _tmpl_results(back, "tmpl-disk") >= 2
            assert agent.terminate() == 0
        finally:
            back.stop()
    finally:
        if agent.alive():
            agent.kill9()
    assert "Traceback" not in agent.log()


HOSTILE = [
    (b"{garbage", None),
    (b"\x00" * 100, "v5"),
    (b'{"version": "v6", "checks": [{"name": "a\\u0000", "type": "disk"}]}', "v6"),
    (b'{"version": ["v7"], "checks": {}}', None),
    (b'{"version": "v8", "checks": [{"name": "d", "type": "disk", "interval": 1e999}]}', "v8"),
    (b"[" * 200000, None),
    (b'{"version": "v9", "checks": [], "pad": "' + b"a" * (2 * MAX_BYTES) + b'"}', "v9"),
    (b'{"version": "v10", "checks": [{"name": "d", "type": "disk", "mounts": 5}]}', "v10"),
    (b"\xff\xfe\x00garbage", None),  # last: unversioned, so the good reply after it ends the refusal
]


@pytest.mark.slow
def test_hostile_replies_are_refused_without_crashing(tmp_path: Path, central: CentralStandin) -> None:
    central.set_doc("v1", [disk_check("tmpl-disk")])
    agent = _agent(tmp_path, central.url, [disk_check("local-disk", interval="60s")]).start()
    try:
        assert agent.wait_log("central configuration v1 applied")
        for i, (body, etag) in enumerate(HOSTILE):
            n = len(central.config_gets())
            central.raw, central.raw_etag = body, etag
            assert _wait(lambda n=n: len(central.config_gets()) > n, 10), f"no poll after hostile reply {i}"
            assert _wait(lambda i=i: agent.log().count("refused, the running configuration stays") > i, 5), \
                f"hostile reply {i} not refused:\n{agent.log()[-2000:]}"
        assert agent.alive()
        central.set_doc("v1", [disk_check("tmpl-disk")])
        before = _tmpl_results(central, "tmpl-disk")
        assert _wait(lambda: _tmpl_results(central, "tmpl-disk") >= before + 2)  # v1 still runs
        assert _wait(lambda: (central.last_block("web01") or {}).get("config_refused", 0) is None, 10)
        assert central.last_block("web01")["config_version"] == "v1"  # type: ignore[index]
        assert parse_document((tmp_path / "state" / "central.json").read_bytes()).version == "v1"
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    log = agent.log()
    assert "Traceback" not in log and "\x00" not in log
    assert max(len(line) for line in log.splitlines()) < 2000


def test_validate_shows_effective_checks_with_their_source(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    save(state, _doc("v4", [disk_check("tmpl-disk"), disk_check("local-disk")]))
    cfg = write_config(tmp_path / "agent.yaml", "http://127.0.0.1:9", state, [disk_check("local-disk")],
                       collector={"central": True})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "agent.cli", "validate", str(cfg)], capture_output=True,
                         text=True, env=env, cwd=str(ROOT), timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "上次有效的中央配置版本: v4" in out.stdout
    assert any(line.split() == ["tmpl-disk", "disk", "中央", "base@v4"] for line in lines), out.stdout
    assert any(line.split() == ["local-disk", "disk", "本地"] for line in lines), out.stdout
    # `check` runs what the agent would run: the kept central checks too.
    out = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--config", str(cfg), "--json"],
                         capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=60)
    assert sorted(r["check"] for r in json.loads(out.stdout)) == ["local-disk", "tmpl-disk"], out.stderr
    # A kept version the local file now forbids is shown as refused, the local checks stay valid.
    save(state, _doc("v5", [{"name": "x", "type": "command", "command": ["/bin/true"]}]))
    out = subprocess.run([sys.executable, "-m", "agent.cli", "validate", str(cfg)], capture_output=True,
                         text=True, env=env, cwd=str(ROOT), timeout=60)
    assert out.returncode == 0 and "上次的中央配置版本 v5 在此配置下会被拒绝" in out.stdout


@pytest.mark.slow
def test_sighup_judges_the_central_version_again_under_the_new_local_file(tmp_path: Path,
                                                                           central: CentralStandin) -> None:
    app_log = tmp_path / "app.log"
    app_log.write_text("started\n", encoding="utf-8")
    tmpl_log = {"name": "tmpl-log", "type": "log", "interval": "1s", "paths": [str(app_log)]}
    central.set_doc("v1", [disk_check("tmpl-disk"), tmpl_log])
    local = [disk_check("local-disk", interval="60s")]
    agent = _agent(tmp_path, central.url, local, central_allow=["disk"]).start()
    try:
        assert agent.wait_log("central configuration v1 refused")
        assert _wait(lambda: ((central.last_block("web01") or {}).get("config_refused") or {}).get("version") == "v1")
        assert central.last_block("web01")["config_version"] is None  # type: ignore[index]
        # The operator allows log checks: the refused version is asked for again and runs.
        _agent(tmp_path, central.url, local, central_allow=["disk", "log"])
        agent.signal(signal.SIGHUP)
        assert agent.wait_log("central configuration v1 applied: 2 checks started, 1 kept, 0 removed")
        assert _wait(lambda: _tmpl_results(central, "tmpl-log") >= 1)
        assert _wait(lambda: (central.last_block("web01") or {}).get("config_version") == "v1")
        assert central.last_block("web01")["config_refused"] is None  # type: ignore[index]
        # And forbids them again: the version stops at once, the local checks stay.
        _agent(tmp_path, central.url, local, central_allow=["disk"])
        agent.signal(signal.SIGHUP)
        assert agent.wait_log("configuration reloaded: 0 checks started, 1 kept, 2 removed")
        assert _wait(lambda: (central.last_block("web01") or {}).get("config_version", "") is None)
        assert agent.log().count("central configuration v1 refused") == 2
        assert "central configuration v1 refused; only the local checks run now" in agent.log()
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()


def test_agent_without_central_never_asks(tmp_path: Path, central: CentralStandin) -> None:
    central.set_doc("v1", [disk_check("tmpl-disk")])
    cfg = write_config(tmp_path / "agent.yaml", central.url, tmp_path / "state", [disk_check("local-disk")],
                       heartbeat="1s")
    agent = AgentProc(cfg, tmp_path / "agent.log").start()
    try:
        assert central.wait_for(lambda: len(central.results) >= 2)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    assert central.config_gets() == []
    assert central.requests[-1]["agent"]["config_version"] is None


@pytest.mark.slow
def test_https_collector_with_a_private_ca(tmp_path: Path) -> None:
    """The poll goes over the agent's TLS transport: the collector's certificate is checked against
    collector.ca_file, as for results."""
    from tests.helpers.certs import make_ca, make_cert

    ca = make_ca()
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    central = CentralStandin()
    central.ssl_context = make_cert("localhost", issuer=ca).server_context(tmp_path)
    central.start()
    central.set_doc("v1", [disk_check("tmpl-disk")])
    agent = _agent(tmp_path, central.url, [disk_check("local-disk", interval="60s")],
                   ca_file=str(tmp_path / "ca.pem")).start()
    try:
        assert agent.wait_log("central configuration v1 applied")
        assert _wait(lambda: _tmpl_results(central, "tmpl-disk") >= 1)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
        central.stop()
    # Without the CA the certificate is refused and nothing is applied.
    untrusted = tmp_path / "untrusted"
    untrusted.mkdir()
    central = CentralStandin()
    central.ssl_context = make_cert("localhost", issuer=make_ca("Other CA")).server_context(untrusted)
    central.start()
    central.set_doc("v1", [disk_check("tmpl-disk")])
    agent = _agent(untrusted, central.url, [disk_check("local-disk", interval="60s")],
                   ca_file=str(tmp_path / "ca.pem")).start()
    try:
        assert agent.wait_log("central configuration not available (SSLCertVerificationError")
        time.sleep(1.5)
        assert "applied" not in agent.log() and central.config_gets() == []
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
        central.stop()
