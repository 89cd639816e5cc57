"""Agentless checks give the agent's results: this machine read through the loopback sshd vs locally."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from agent.agentless.config import parse_poller_config
from agent.agentless.poller import Target
from checks.model import Status
from tests.agent.agentless_env import Local, by_name, known_hosts, make_target, metrics, poller_doc
from tests.helpers import sshd as sshd_helpers

client_key, sshd, sshd_factory = sshd_helpers.client_key, sshd_helpers.sshd, sshd_helpers.sshd_factory  # fixtures

PLUGINS = Path("/usr/lib/nagios/plugins")


def same_twice(pair: Callable[[], tuple[Any, Any]], key: Callable[[Any], Any], tries: int = 5) -> tuple[Any, Any]:
    """Local and remote readings of figures other processes on this machine keep moving (disk
    usage): equal in one of a few attempts close together, or the last pair for the assertion."""
    for _ in range(tries):
        local, remote = pair()
        if key(local) == key(remote):
            break
    return local, remote


def test_disk_same_mounts_and_used_percent(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    checks = [{"name": "all-disks", "type": "disk"}, {"name": "root", "type": "disk", "mounts": ["/"]}]
    target = make_target(tmp_path, sshd, client_key, checks)
    local = Local(tmp_path, checks)
    try:
        for name in ("all-disks", "root"):
            def pair(name: str = name) -> tuple[Any, Any]:
                return local.run(name), by_name(target.round([s for s in target.slots if s.spec.name == name]))[name]

            def figures(r: Any) -> Any:
                return (r.status, r.summary, metrics(r, skip=tuple(m.name for m in r.metrics
                                                                     if m.name.startswith("free_bytes"))))

            lr, rr = same_twice(pair, figures)
            assert rr.type == "disk" and rr.host == "loop"
            assert figures(rr) == figures(lr)
            assert [d["mount"] for d in rr.details["mounts"]] == [d["mount"] for d in lr.details["mounts"]]
            assert any(m.name == "used_percent:/" for m in rr.metrics)
    finally:
        target.close()


def test_disk_stat_that_hangs_is_unknown(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    """A mount whose statvfs never answers (dead NFS) is UNKNOWN over SSH too. Stand-in: the remote
    `stat -f` replaced by a command that blocks; the remote `timeout` kills it."""
    from agent.agentless.sources import Remote
    from checks.disk import DiskCheck, DiskOptions
    from checks.timed import HungCallRegistry

    target = make_target(tmp_path, sshd, client_key, [])
    try:
        target.connect()

        class Blocking:
            def run(self, script: str, **kw: Any) -> Any:
                return target.session().run(script.replace("stat -f -c", "sleep 30 #"), **kw)

        remote = Remote(lambda: Blocking())  # type: ignore[arg-type,return-value]
        check = DiskCheck(DiskOptions(mounts=["/"], stat_timeout=2.0), mount_table=remote.mount_table,
                          statvfs=lambda mp: remote.statvfs(mp, 1.0), registry=HungCallRegistry())
        outcome = check.run()
        assert outcome.status is Status.UNKNOWN
        assert outcome.summary == "挂载点 / 无响应 (2 秒超时)"
    finally:
        target.close()


def test_log_same_events_rotation_and_restart(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text("2026-11-25 09:00:00 ERROR before the first run\n")
    checks = [{"name": "app-log", "type": "log", "system": "voucher", "paths": [f"{logs}/*.log"],
               "patterns": {"critical": ["ERROR"], "warning": ["WARN"]}}]
    target = make_target(tmp_path, sshd, client_key, checks)
    local = Local(tmp_path, checks)

    def both() -> tuple[Any, Any]:
        return local.run("app-log"), by_name(target.round())["app-log"]

    def events(r: Any) -> tuple[float, float]:
        m = metrics(r)
        return m["critical_events"][0], m["warning_events"][0]

    try:
        lr, rr = both()  # first sight: from the end, as the agent
        assert events(lr) == events(rr) == (0, 0)
        with app.open("a") as f:
            f.write("2026-11-25 10:00:00 ERROR 凭证发送失败 id=1\n\tat com.x.Voucher.send\n"
                    "2026-11-25 10:00:01 WARN slow\n2026-11-25 10:00:02 ERROR id=2\n")
        lr, rr = both()
        assert events(lr) == events(rr) == (2, 1)
        assert (rr.status, rr.summary) == (lr.status, lr.summary) == (Status.CRITICAL, rr.summary)
        assert rr.details["samples"] == lr.details["samples"]

        # rotation by rename: the tail of the renamed file and the new file are both read
        with app.open("a") as f:
            f.write("2026-11-25 10:01:00 ERROR written before rotation\n")
        app.rename(logs / "app.log.1")
        app.write_text("2026-11-25 10:02:00 ERROR after rotation\n")
        lr, rr = both()
        assert events(lr) == events(rr) == (2, 0)
        assert {f["path"] for f in rr.details["files"]} == {str(app), str(logs / "app.log.1")}

        lr, rr = both()
        assert events(lr) == events(rr) == (0, 0)
    finally:
        target.close()

    # a new poller (restart) continues from the saved positions
    with app.open("a") as f:
        f.write("2026-11-25 10:03:00 ERROR after the restart\n")
    again = make_target(tmp_path, sshd, client_key, checks)
    try:
        lr, rr = local.run("app-log"), by_name(again.round())["app-log"]
        assert events(lr) == events(rr) == (1, 0)
    finally:
        again.close()


def test_log_missing_file_and_unreadable(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    checks = [{"name": "none", "type": "log", "paths": [f"{tmp_path}/nothing/*.log"]}]
    target = make_target(tmp_path, sshd, client_key, checks)
    local = Local(tmp_path, checks)
    try:
        lr, rr = local.run("none"), by_name(target.round())["none"]
        assert (rr.status, rr.summary) == (lr.status, lr.summary) == (Status.WARNING, lr.summary)
    finally:
        target.close()


@pytest.fixture
def marker_procs() -> Any:
    marker = f"xunjian-marker-{uuid.uuid4().hex[:8]}"
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", marker]) for _ in range(2)]
    time.sleep(0.3)
    yield marker, procs
    for p in procs:
        p.kill()
        p.wait()


def test_process_same_count_and_pids(tmp_path: Path, sshd: Any, client_key: Path, marker_procs: Any) -> None:
    marker, procs = marker_procs
    checks = [{"name": "marker", "type": "process", "cmdline": marker, "count": "2:2"},
              {"name": "marker-root", "type": "process", "process_name": "python*", "user": "root",
               "cmdline": marker, "count": "1:"},
              {"name": "absent", "type": "process", "cmdline": marker + "-nope"}]
    target = make_target(tmp_path, sshd, client_key, checks)
    local = Local(tmp_path, checks)
    try:
        remote = by_name(target.round())
        for name in ("marker", "marker-root", "absent"):
            lr, rr = local.run(name), remote[name]
            assert rr.status == lr.status
            assert metrics(rr)["count"] == metrics(lr)["count"]
            assert ([(p["pid"], p["name"], p["user"], p["create_time"], p["cmdline"]) for p in rr.details["processes"]]
                    == [(p["pid"], p["name"], p["user"], p["create_time"], p["cmdline"])
                        for p in lr.details["processes"]])
        assert metrics(remote["marker"])["count"][0] == 2
        assert remote["absent"].status is Status.CRITICAL and "未找到进程" in remote["absent"].summary
        # a restart is seen over SSH as the agent sees it
        procs[0].kill()
        procs[0].wait()
        procs[0] = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", marker])
        time.sleep(0.3)
        rr = by_name(target.round([target.slots[0]]))["marker"]
        assert rr.status is Status.WARNING and "进程已重启" in rr.summary
    finally:
        target.close()


@pytest.mark.skipif(not (PLUGINS / "check_procs").exists(), reason="monitoring-plugins-basic is not installed")
def test_command_plugins_same_status_and_perfdata(tmp_path: Path, sshd: Any, client_key: Path,
                                                  marker_procs: Any) -> None:
    marker, _ = marker_procs
    checks = [
        {"name": "procs", "type": "command", "command": [str(PLUGINS / "check_procs"), "-a", marker, "-w", "2:2",
                                                          "-c", "1:3"]},
        {"name": "procs-crit", "type": "command", "command": [str(PLUGINS / "check_procs"), "-a", marker,
                                                               "-c", "5:"]},
        {"name": "disk", "type": "command", "command": [str(PLUGINS / "check_disk"), "-w", "99%", "-c", "98%",
                                                         "-p", "/"]},
        {"name": "shell", "type": "command", "shell": True, "command": "echo 'WARN - x | a=1;2;3'; exit 1"},
        {"name": "missing", "type": "command", "command": ["/nonexistent/check_x"]},
        {"name": "slow", "type": "command", "command": ["sleep", "30"], "command_timeout": "1s"},
    ]
    target = make_target(tmp_path, sshd, client_key, checks)
    local = Local(tmp_path, checks)
    try:
        for name in ("procs", "procs-crit", "disk", "shell", "missing", "slow"):
            def pair(name: str = name) -> tuple[Any, Any]:
                return local.run(name), by_name(target.round([s for s in target.slots if s.spec.name == name]))[name]

            def figures(r: Any) -> Any:
                return r.status, r.summary, metrics(r, skip=("exec_seconds",))

            lr, rr = same_twice(pair, figures)
            if name == "disk" and figures(rr) != figures(lr):
                # others write to this disk all the time: free MiB move between the two runs
                assert rr.status == lr.status
                lm, rm = metrics(lr, skip=("exec_seconds",)), metrics(rr, skip=("exec_seconds",))
                assert {k: v[1:] for k, v in rm.items()} == {k: v[1:] for k, v in lm.items()}
                assert all(rm[k][0] == pytest.approx(lm[k][0], rel=0.01) for k in lm)
                continue
            assert figures(rr) == figures(lr), name
        assert by_name(target.round(target.slots[:1]))["procs"].status is Status.OK
        assert by_name(target.round(target.slots[1:2]))["procs-crit"].status is Status.CRITICAL
    finally:
        target.close()


def test_unreachable_target_is_unknown_and_the_other_is_inspected(tmp_path: Path, sshd: Any,
                                                                  client_key: Path) -> None:
    from agent.agentless.poller import Poller
    from tests.helpers.net import closed_port

    checks = [{"name": "root", "type": "disk", "mounts": ["/"]}, {"name": "sshd", "type": "process",
                                                                    "process_name": "sshd", "count": "0:"}]
    doc = poller_doc(tmp_path, [
        {"name": "down", "address": "127.0.0.1", "port": closed_port(), "checks": checks},
        {"name": "up", "address": "127.0.0.1", "port": sshd.port, "checks": checks},
    ], key=client_key, known=known_hosts(tmp_path, sshd), parallel=2)
    cfg = parse_poller_config(doc)
    got: list[Any] = []
    targets = [Target(t, got.append) for t in cfg.targets]
    poller = Poller(cfg)
    poller.targets = targets
    try:
        for t in targets:
            t.round()
    finally:
        for t in targets:
            t.close()
    down = [r for r in got if r.host == "down"]
    up = [r for r in got if r.host == "up"]
    assert {r.check for r in down} == {r.check for r in up} == {"root", "sshd"}
    assert all(r.status is Status.UNKNOWN and r.summary.startswith("SSH 无法连接: 无法连接 root@127.0.0.1")
               for r in down)
    assert all(r.status is Status.OK for r in up)


def test_host_keys_verified(tmp_path: Path, sshd: Any, sshd_factory: Any, client_key: Path) -> None:
    checks = [{"name": "root", "type": "disk", "mounts": ["/"]}]
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    unknown = make_target(tmp_path, sshd, client_key, checks, known=empty)
    r = unknown.round()[0]
    assert r.status is Status.UNKNOWN and "不在 known_hosts 中" in r.summary

    tofu = make_target(tmp_path, sshd, client_key, checks, known=empty, trust_on_first_use=True)
    assert tofu.round()[0].status is Status.OK
    tofu.close()
    assert f"[127.0.0.1]:{sshd.port}" in empty.read_text()

    other = sshd_factory()  # another host key recorded under this port: a changed key
    kh = tmp_path / "changed_known_hosts"
    kh.write_text(other.known_hosts_line().replace(f"]:{other.port} ", f"]:{sshd.port} "))
    changed = make_target(tmp_path, sshd, client_key, checks, known=kh, trust_on_first_use=True)
    r = changed.round()[0]
    assert r.status is Status.UNKNOWN and "主机密钥已变更" in r.summary


def test_jump_host(tmp_path: Path, sshd: Any, sshd_factory: Any, client_key: Path) -> None:
    bastion = sshd_factory()
    known = known_hosts(tmp_path, sshd, bastion)
    target = make_target(tmp_path, sshd, client_key, [{"name": "root", "type": "disk", "mounts": ["/"]}],
                         known=known, jump={"address": "127.0.0.1", "port": bastion.port})
    try:
        assert target.round()[0].status is Status.OK
    finally:
        target.close()


def test_config_refuses_checks_that_cannot_run_agentless(tmp_path: Path, client_key: Path) -> None:
    from checks.options import ConfigError

    doc = poller_doc(tmp_path, [{"name": "x", "address": "127.0.0.1",
                                 "checks": [{"name": "t", "type": "tcp", "host": "x", "port": 22}]}],
                     key=client_key, known=None)
    with pytest.raises(ConfigError, match="agentless targets run disk, log, process, command"):
        parse_poller_config(doc)
    doc = poller_doc(tmp_path, [{"name": "x", "address": "127.0.0.1",
                                 "checks": [{"name": "l", "type": "log", "paths": ["logs/*.log"]}]}],
                     key=client_key, known=None)
    with pytest.raises(ConfigError, match="absolute path on the target"):
        parse_poller_config(doc)
    assert os.path.exists(client_key)


def test_login_shell_chatter_is_not_taken_for_data(tmp_path: Path, sshd_factory: Any, client_key: Path) -> None:
    """Targets whose shell start-up files print a banner still give the same figures."""
    home = tmp_path / "home"  # bash run by sshd reads ~/.bashrc even for a command
    home.mkdir()
    (home / ".bashrc").write_text("echo '欢迎登录生产环境 1 2 3 4 5 6 7'\necho 'X 1 2 3 4'\n")
    chatty = sshd_factory(extra_config=f"SetEnv HOME={home}\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("x\n")
    checks = [{"name": "root", "type": "disk", "mounts": ["/"]},
              {"name": "sshd", "type": "process", "process_name": "sshd", "count": "1:"},
              {"name": "log", "type": "log", "paths": [f"{logs}/*.log"], "from": "start"}]
    target = make_target(tmp_path, chatty, client_key, checks)
    try:
        target.connect()
        _, out, _ = target.session()._client.exec_command("true")
        assert "欢迎登录" in out.read().decode()  # the banner is really there
        assert target.session().run("echo hi", timeout=10).stdout == b"hi\n"
        with (logs / "a.log").open("a") as f:
            f.write("ERROR one\n")
        results = by_name(target.round())
        assert results["root"].status is Status.OK and results["sshd"].status is Status.OK
        assert metrics(results["log"])["critical_events"][0] == 1
    finally:
        target.close()
