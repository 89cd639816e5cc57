"""The real agent process against a real (stand-in) collector: outages, crashes, signals."""
from __future__ import annotations

import json
import random
import re
import signal
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from tests.agent.agentproc import AgentProc, assert_quiet_log, disk_check, spool_rows, write_config
from tests.agent.standin import Standin

pytestmark = pytest.mark.slow


@pytest.fixture
def standin():
    s = Standin().start()
    yield s
    s.hang_release.set()
    s.stop()


def _agent(tmp_path: Path, url: str, checks: list, **extra) -> AgentProc:
    cfg = write_config(tmp_path / "agent.yaml", url, tmp_path / "state", checks, **extra)
    return AgentProc(cfg, tmp_path / "agent.log")


def assert_complete(s: Standin) -> None:
    """Every spooled result arrived once under one id: seq 1..N without gaps."""
    by_seq = s.ids_by_seq()
    assert by_seq, "nothing arrived"
    assert sorted(by_seq) == list(range(1, max(by_seq) + 1)), "gap in seq"
    assert all(len(ids) == 1 for ids in by_seq.values()), "a result was sent under two ids"
    assert len(s.results) == max(by_seq)


def test_collector_down_for_a_while_loses_nothing(tmp_path: Path, standin: Standin) -> None:
    port = standin.port
    agent = _agent(tmp_path, standin.url, [disk_check("d1"), disk_check("d2")]).start()
    try:
        assert standin.wait_for(lambda: len(standin.results) >= 4)
        standin.stop()
        time.sleep(5)
        assert agent.alive()
        back = Standin(port)
        back.results, back.arrivals = standin.results, standin.arrivals  # the same collector database
        back.start()
        try:
            before = len(back.results)
            assert back.wait_for(lambda: len(back.results) >= before + 10)
            assert agent.terminate() == 0
            assert_complete(back)
            assert set(back.arrivals.values()) == {1}, "a result was sent twice without a crash"
            assert spool_rows(tmp_path / "state") == 0
            assert back.requests[-1]["agent"]["dropped_total"] == 0
        finally:
            back.stop()
    finally:
        if agent.alive():
            agent.kill9()
    assert "collector unreachable" in agent.log()
    assert_quiet_log(agent.log())


def test_kill9_during_sending_no_duplicates_nothing_lost(tmp_path: Path, standin: Standin) -> None:
    standin.delay = 0.3  # the batch is stored, the agent waits for the reply: the window for kill -9
    checks = [disk_check(f"d{i}") for i in range(4)]
    agent = _agent(tmp_path, standin.url, checks, send={"flush_interval": "0.05s"})
    rng = random.Random(7)
    for _ in range(6):
        agent.start()
        assert standin.wait_for(lambda: len(standin.requests) > 0)
        time.sleep(rng.uniform(1.0, 3.0))
        agent.kill9()
    standin.delay = 0.0
    agent.start()
    n = len(standin.results)
    assert standin.wait_for(lambda: len(standin.results) >= n + 8)
    assert agent.terminate() == 0
    assert_complete(standin)
    assert spool_rows(tmp_path / "state") == 0


def test_500_then_recovery(tmp_path: Path, standin: Standin) -> None:
    standin.mode = "500"
    agent = _agent(tmp_path, standin.url, [disk_check()]).start()
    try:
        assert standin.wait_for(lambda: sum(r["code"] == 500 for r in standin.requests) >= 3)
        standin.mode = "ok"
        assert standin.wait_for(lambda: len(standin.results) >= 6)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    assert_complete(standin)
    log = agent.log()
    assert "collector answered http 500" in log and "Internal error" in log  # body quoted, quietly
    assert_quiet_log(log)


def test_hang_times_out_and_retries(tmp_path: Path, standin: Standin) -> None:
    standin.mode = "hang"
    agent = _agent(tmp_path, standin.url, [disk_check()], send={"timeout": "1s"}).start()
    try:
        assert agent.wait_log("collector unreachable (TimeoutError") or agent.wait_log("timed out")
        standin.mode = "ok"
        standin.hang_release.set()
        assert standin.wait_for(lambda: len(standin.results) >= 4)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    assert_complete(standin)
    assert_quiet_log(agent.log())


def test_connection_reset_then_recovery(tmp_path: Path, standin: Standin) -> None:
    standin.mode = "reset"
    agent = _agent(tmp_path, standin.url, [disk_check()]).start()
    try:
        assert standin.wait_for(lambda: len(standin.requests) >= 2)
        standin.mode = "ok"
        assert standin.wait_for(lambda: len(standin.results) >= 4)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    assert_complete(standin)
    assert "collector unreachable" in agent.log()
    assert_quiet_log(agent.log())


def test_429_honours_retry_after(tmp_path: Path, standin: Standin) -> None:
    standin.mode = "429"
    standin.retry_after = "3"
    agent = _agent(tmp_path, standin.url, [disk_check()]).start()
    try:
        assert standin.wait_for(lambda: sum(r["code"] == 429 for r in standin.requests) >= 2, 30)
        standin.mode = "ok"
        assert standin.wait_for(lambda: len(standin.results) >= 3)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    times = [r["time"] for r in standin.requests]
    busy = [i for i, r in enumerate(standin.requests) if r["code"] == 429]
    for i in busy:
        if i + 1 < len(times):
            assert times[i + 1] - times[i] >= 2.9, "retried before Retry-After"
    assert_complete(standin)
    assert_quiet_log(agent.log())


def test_sighup_reload_valid_and_invalid(tmp_path: Path, standin: Standin) -> None:
    agent = _agent(tmp_path, standin.url, [disk_check("a")]).start()
    try:
        assert standin.wait_for(lambda: any(r["check"] == "a" for r in list(standin.results.values())))
        write_config(agent.config, standin.url, tmp_path / "state", [disk_check("a"), disk_check("b")])
        agent.signal(signal.SIGHUP)
        assert agent.wait_log("configuration reloaded: 1 checks started, 1 kept, 0 removed")
        assert standin.wait_for(lambda: any(r["check"] == "b" for r in list(standin.results.values())))
        agent.config.write_text("collector: {url: 'http://127.0.0.1:1'}\nchecks: [{name: x, type: nope}]\n")
        agent.signal(signal.SIGHUP)
        assert agent.wait_log("reload refused, the running configuration stays")
        n_b = sum(r["check"] == "b" for r in list(standin.results.values()))
        assert standin.wait_for(lambda: sum(r["check"] == "b" for r in list(standin.results.values())) >= n_b + 2)
        assert agent.alive()
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    assert_complete(standin)
    assert_quiet_log(agent.log())


def test_sigterm_flushes_spool(tmp_path: Path) -> None:
    s = Standin()
    s.start()
    url = s.url
    s.stop()  # the collector is down while results pile up
    agent = _agent(tmp_path, url, [disk_check("d1"), disk_check("d2")],
                   send={"max_backoff": "60s"}).start()
    try:
        assert agent.wait_log("collector unreachable")
        time.sleep(4)  # the agent is now waiting out a long backoff
        back = Standin(s.port).start()
        try:
            assert agent.terminate() == 0
            assert_complete(back)
            assert len(back.results) >= 4
            assert spool_rows(tmp_path / "state") == 0
        finally:
            back.stop()
    finally:
        if agent.alive():
            agent.kill9()
    assert "spool flushed" in agent.log()


def test_hung_check_times_out_is_skipped_and_does_not_delay_others(tmp_path: Path, standin: Standin) -> None:
    slow = {"name": "slow", "type": "command", "system": "os", "interval": "1s", "timeout": "1s",
            "command": ["sleep", "6"], "command_timeout": "20s"}
    agent = _agent(tmp_path, standin.url, [slow, disk_check("fast")],
                   metrics={"listen": "127.0.0.1:0"}).start()
    try:
        assert standin.wait_for(lambda: any(r["check"] == "slow" for r in list(standin.results.values())))
        t0 = time.monotonic()
        fast_before = sum(r["check"] == "fast" for r in list(standin.results.values()))
        assert standin.wait_for(lambda: max((r["agent"] or {}).get("skipped_total", 0)
                                            for r in list(standin.requests)) >= 2)
        fast_after = sum(r["check"] == "fast" for r in list(standin.results.values()))
        elapsed = time.monotonic() - t0
        port = re.search(r"metrics on http://127.0.0.1:(\d+)/metrics", agent.log())
        assert port is not None
        text = urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=5).read().decode()
        assert re.search(r'xunjian_agent_checks_skipped_total\{check="slow"\} [1-9]', text), text
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    slow_results = [r for r in standin.results.values() if r["check"] == "slow"]
    assert slow_results[0]["status"] == "UNKNOWN" and slow_results[0]["summary"].startswith("检查超时")
    # while the slow check hung, the fast one kept its pace (about one per second)
    assert fast_after - fast_before >= int(elapsed) // 2
    assert "this turn skipped" in agent.log()
    assert_complete(standin)


def test_check_command_is_readonly_and_exits_with_worst(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.agent.agentproc import ROOT

    state = tmp_path / "state"
    cfg = write_config(tmp_path / "agent.yaml", "http://127.0.0.1:9", state,
                       [disk_check("ok-disk"), disk_check("warn-disk", warn="0")])
    run = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--config", str(cfg)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stderr
    assert "warn-disk" in run.stdout and "警告 WARNING" in run.stdout and "正常 OK" in run.stdout
    run = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--config", str(cfg), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    data = json.loads(run.stdout)
    assert [d["check"] for d in data] == ["ok-disk", "warn-disk"]
    assert {"id", "seq", "host", "status", "metrics", "details"} <= set(data[0])
    assert not (state / "checks").exists() or not any((state / "checks").iterdir())


def test_own_log_never_trips_a_log_check_watching_it(tmp_path: Path, standin: Standin) -> None:
    """The acceptance layout: the agent's stderr is $WORKDIR/agent.log and a log check globs
    $WORKDIR/*.log for ERROR / WARN while the collector fails, hangs and goes away."""
    watch = {"name": "own-log", "type": "log", "system": "os", "interval": "1s",
             "paths": [str(tmp_path / "*.log")], "from": "start",
             "patterns": {"critical": ["ERROR"], "warning": ["WARN"]}}
    agent = _agent(tmp_path, standin.url, [watch, disk_check()], send={"timeout": "1s"}).start()
    port = standin.port
    try:
        standin.mode = "500"
        assert agent.wait_log("collector answered http 500")
        standin.mode = "401"
        assert agent.wait_log("collector refused our token")
        standin.mode = "hang"
        assert agent.wait_log("TimeoutError") or agent.wait_log("timed out")
        standin.hang_release.set()
        standin.stop()
        time.sleep(3)
        back = Standin(port)
        back.results = standin.results
        back.start()
        try:
            n = len(back.results)
            assert back.wait_for(lambda: len(back.results) >= n + 6)
            assert agent.terminate() == 0
        finally:
            back.stop()
    finally:
        if agent.alive():
            agent.kill9()
    own = [r for r in back.results.values() if r["check"] == "own-log"]
    assert own and all(r["status"] == "OK" for r in own), [r["summary"] for r in own]
    assert_quiet_log(agent.log())


def test_checks_of_one_interval_run_in_one_turn(tmp_path: Path, standin: Standin) -> None:
    checks = [disk_check(f"d{i}", interval="2s") for i in range(3)] + [disk_check("slow-grid", interval="3s")]
    agent = _agent(tmp_path, standin.url, checks).start()
    try:
        assert standin.wait_for(lambda: sum(r["check"] == "d0" for r in standin.results.values()) >= 4, 30)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
    starts: dict[str, list[datetime]] = {}
    for r in sorted(standin.results.values(), key=lambda r: r["seq"]):
        starts.setdefault(r["check"], []).append(datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")))
    turns = min(len(starts[f"d{i}"]) for i in range(3))
    assert turns >= 4
    for k in range(turns):
        at = [starts[f"d{i}"][k] for i in range(3)]
        assert (max(at) - min(at)).total_seconds() < 0.5, f"turn {k} spread out: {at}"
    gaps = [(b - a).total_seconds() for a, b in zip(starts["d0"], starts["d0"][1:])]
    assert all(1.5 < g < 2.6 for g in gaps), gaps  # on the grid, not drifting
    assert_complete(standin)
