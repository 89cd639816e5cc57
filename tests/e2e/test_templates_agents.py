"""Templates end to end with real processes (issue 23): `xunjian-collector serve` on SQLite (and two of
them on PostgreSQL), the template CLI as a separate process, and real `xunjian-agent run` processes with
`collector.central: true`. A template change reaches 50 agents within a heartbeat without a restart; an
agent whose central_allow excludes `command` refuses such a version, keeps its last good one and the
collector shows the refusal; a rollback brings every host back; with the collector away the agents run
their last good version (also after a restart) and their results arrive once it is back."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from agent.central import JITTER
from collector.db import make_engine, make_sessionmaker
from collector.hosts import service as hosts
from collector.templates.poll import GENERATION_TTL
from tests.agent.agentless_env import known_hosts, poller_doc
from tests.agent.agentproc import ROOT, AgentProc, disk_check, spool_rows, write_config
from tests.collector.templates_helpers import bucket
from tests.conftest import bin_path, free_port, run_cli, wait_http
from tests.helpers import sshd as sshd_helpers

client_key, sshd, sshd_factory = sshd_helpers.client_key, sshd_helpers.sshd, sshd_helpers.sshd_factory  # fixtures

pytestmark = pytest.mark.slow

HEARTBEAT = 2.0
UNIT = "某市财政局"
CLI = bin_path("xunjian-collector")


def tmpl(name: str, checks: list[dict[str, Any]], match: str = "{unit: 某市财政局}") -> str:
    lines = [f"name: {name}", f"match: {match}", "priority: 10", "checks:"]
    lines += [f"  - {json.dumps(c, ensure_ascii=False)}" for c in checks]
    return "\n".join(lines) + "\n"


def wait_for(fn: Callable[[], Any], timeout: float, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Collector:
    """One `xunjian-collector serve` process on `db` (the schema already upgraded)."""

    def __init__(self, db: str, log: Path, key: str) -> None:
        self.db, self.log_path, self.key = db, log, key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Collector:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([CLI, "serve", "--db", self.db, "--port", str(self.port)], stdout=log,
                                         stderr=subprocess.STDOUT, env={**os.environ, "XUNJIAN_DB_URL": self.db})
        wait_http(self.url + "/healthz", timeout=60)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.key}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def host_config(self, host: str) -> dict[str, Any]:
        return self.get(f"/api/v1/hosts/{host}/template-config")

    def results(self, host: str, check: str) -> int:
        return len(self.get(f"/api/v1/results?host={host}&check={check}&limit=1000")["items"])


class Site:
    """A database with an admin, enrolled hosts and the template CLI."""

    def __init__(self, db: str, tmp: Path, names: list[str]) -> None:
        self.db, self.tmp = db, tmp
        self.env = {"XUNJIAN_DB_URL": db}
        run_cli(CLI, "db", "upgrade", env=self.env)
        self.password = "模板-e2e-Passw0rd"
        added = subprocess.run([CLI, "user", "add", "admin", "--role", "admin", "--password-stdin"], check=True,
                               input=self.password + "\n", capture_output=True, text=True, timeout=120,
                               env={**os.environ, **self.env})
        self.key = added.stdout.strip().splitlines()[-1]
        engine = make_engine(db)
        with make_sessionmaker(engine)() as s:  # as `agent enroll --unit` does, without a process per host
            self.tokens = {h: hosts.enroll(db=s, name=h, unit=UNIT)[1] for h in names}
            s.commit()
        engine.dispose()

    def collector(self, i: int = 0) -> Collector:
        return Collector(self.db, self.tmp / f"collector{i}.log", self.key)

    def cli(self, *args: str) -> str:
        return run_cli(CLI, "template", *args, env=self.env)

    def apply(self, name: str, checks: list[dict[str, Any]], n: int, percent: int = 100) -> str:
        f = self.tmp / f"{name}-{n}.yaml"
        f.write_text(tmpl(name, checks), encoding="utf-8")
        return self.cli("apply", str(f), "--percent", str(percent))


def console_page(c: Collector, site: Site, path: str) -> str:
    """A console page as a logged-in admin (the login form with its CSRF token, then the session cookie)."""
    import http.cookiejar
    import re
    import urllib.parse

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(c.url + "/console/login", timeout=30) as r:
        csrf = re.search(r'name="csrf" value="([^"]+)"', r.read().decode())
    assert csrf is not None
    form = urllib.parse.urlencode({"csrf": csrf.group(1), "next": path, "username": "admin",
                                   "password": site.password}).encode()
    with opener.open(c.url + "/console/login", data=form, timeout=30) as r:
        return r.read().decode()


def start_agent(tmp: Path, url: str, host: str, token: str, **collector: Any) -> AgentProc:
    d = tmp / host
    d.mkdir(exist_ok=True)
    cfg = write_config(d / "agent.yaml", url, d / "state", [disk_check("local-disk", interval="60s")],
                       heartbeat=f"{HEARTBEAT:g}s", host={"name": host},
                       collector={"url": url, "token": token, "central": True, **collector})
    return AgentProc(cfg, d / "agent.log").start()


def stop_all(agents: list[AgentProc]) -> None:
    for a in agents:
        if a.alive():
            a.signal(signal.SIGTERM)
    for a in agents:
        try:
            a.terminate(20)
        except subprocess.TimeoutExpired:
            a.kill9()


def applied(version: str) -> str:
    return f"central configuration {version} applied"


# -- 50 agents on SQLite --------------------------------------------------------------------------

AGENTS = 50
SLACK = 2.0  # seconds for 50 processes on this shared 2-core machine to act on the reply and log it


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Site, Collector, dict[str, AgentProc]]]:
    names = [f"fleet{i:02d}" for i in range(AGENTS)]
    site = Site(f"sqlite:///{tmp_path / 'xunjian.db'}", tmp_path, names)
    c = site.collector().start()
    agents: dict[str, AgentProc] = {}
    try:
        yield site, c, agents
    finally:
        stop_all(list(agents.values()))
        c.stop()


def test_a_change_reaches_50_agents_within_a_heartbeat_and_rolls_back(
        fleet: tuple[Site, Collector, dict[str, AgentProc]], tmp_path: Path) -> None:
    site, c, agents = fleet
    t_start = time.monotonic()
    site.apply("fleet-base", [disk_check("tmpl-disk", interval="2s")], 1)
    v1 = c.host_config("fleet00")["version"]
    for h, token in site.tokens.items():
        agents[h] = start_agent(tmp_path, c.url, h, token)
    started = wait_for(lambda: all(applied(v1) in a.log() for a in agents.values()), 60, 0.5)
    assert started, [h for h, a in agents.items() if applied(v1) not in a.log()]
    t_up = time.monotonic() - t_start
    pids = {h: a.pid for h, a in agents.items()}

    site.apply("fleet-base", [disk_check("tmpl-disk", interval="2s"), disk_check("tmpl-new", interval="1s")], 2)
    t0 = time.monotonic()
    v2 = c.host_config("fleet00")["version"]
    assert v2 != v1
    reached: dict[str, float] = {}
    # the collector trusts the generation it read for GENERATION_TTL; the agent polls every heartbeat ± jitter
    limit = HEARTBEAT * (1 + JITTER) + GENERATION_TTL + SLACK
    while len(reached) < AGENTS and time.monotonic() - t0 < limit + 15:
        for h, a in agents.items():
            if h not in reached and applied(v2) in a.log():
                reached[h] = time.monotonic() - t0
        time.sleep(0.05)
    assert len(reached) == AGENTS, f"without v2: {sorted(set(agents) - set(reached))}"
    slowest = max(reached.values())
    median = sorted(reached.values())[AGENTS // 2]
    print(f"\n{AGENTS} agents up with v1 in {t_up:.1f}s; v2 reached all in {slowest:.2f}s "
          f"(median {median:.2f}s; heartbeat {HEARTBEAT:g}s + {JITTER:.0%} jitter + {GENERATION_TTL:g}s generation)")
    assert slowest <= limit, f"slowest agent took {slowest:.2f}s > {limit:.2f}s"
    assert {h: a.pid for h, a in agents.items()} == pids and all(a.alive() for a in agents.values())
    for a in agents.values():
        assert a.log().count("xunjian-agent 0.1.0 started") == 1  # applied without a restart

    # every host's results show the new check and it reports the version the collector serves it
    assert wait_for(lambda: all(c.results(h, "tmpl-new") for h in agents), 20, 0.5), \
        [h for h in agents if not c.results(h, "tmpl-new")]
    assert wait_for(lambda: all(c.host_config(h)["reported_version"] == v2 for h in agents), 15, 0.5)
    assert {c.host_config(h)["version"] for h in agents} == {v2}
    assert {h["name"]: h["config_version"] for h in c.get("/api/v1/hosts")["items"]} == {h: v2 for h in agents}
    assert c.get("/api/v1/templates/fleet-base")["hosts_by_running"] == {"2": AGENTS}

    out = site.cli("rollback", "fleet-base")
    assert "v1" in out
    t1 = time.monotonic()
    assert c.host_config("fleet00")["version"] == v1  # the same version (and ETag) as before
    assert wait_for(lambda: all(applied(v1) in a.log()[a.log().index(applied(v2)):] for a in agents.values()),
                    limit + 15, 0.1)
    back = time.monotonic() - t1
    assert wait_for(lambda: all(c.host_config(h)["reported_version"] == v1 for h in agents), 15, 0.5)
    assert c.get("/api/v1/templates/fleet-base")["hosts_by_running"] == {"1": AGENTS}
    print(f"rollback reached all {AGENTS} agents in {back:.2f}s")
    assert back <= limit
    assert {h: a.pid for h, a in agents.items()} == pids


# -- refusal and outage on SQLite -----------------------------------------------------------------


def kept_version(tmp: Path, host: str) -> str:
    return json.loads((tmp / host / "state" / "central.json").read_text(encoding="utf-8"))["version"]


def test_refusal_rollback_and_outage(tmp_path: Path) -> None:
    site = Site(f"sqlite:///{tmp_path / 'xunjian.db'}", tmp_path, ["strict", "open"])
    c = site.collector().start()
    agents: dict[str, AgentProc] = {}
    try:
        site.apply("ops", [disk_check("tmpl-disk", interval="1s")], 1)
        v1 = c.host_config("strict")["version"]
        agents["strict"] = start_agent(tmp_path, c.url, "strict", site.tokens["strict"], central_allow=["disk", "log"])
        agents["open"] = start_agent(tmp_path, c.url, "open", site.tokens["open"],
                                     central_allow=["disk", "log", "command"])
        assert wait_for(lambda: all(applied(v1) in a.log() for a in agents.values()), 30)

        cmd = {"name": "tmpl-echo", "type": "command", "system": "os", "interval": "1s", "command": "echo OK - fine"}
        site.apply("ops", [disk_check("tmpl-disk", interval="1s"), cmd], 2)
        v2 = c.host_config("strict")["version"]
        assert wait_for(lambda: applied(v2) in agents["open"].log(), 15)
        assert wait_for(lambda: f"central configuration {v2} refused" in agents["strict"].log(), 15)
        assert agents["strict"].alive() and kept_version(tmp_path, "strict") == v1
        # the collector shows the refusal on the host and on the template
        assert wait_for(lambda: c.host_config("strict")["refused_version"] == v2, 15)
        hc = c.host_config("strict")
        assert hc["reported_version"] == v1 and "command" in hc["refused_error"]
        host = c.get("/api/v1/hosts/strict")
        assert (host["config_version"], host["config_refused_version"]) == (v1, v2)
        assert "central_allow" in host["config_refused_error"]
        assert wait_for(lambda: c.host_config("open")["reported_version"] == v2, 10)
        detail = c.get("/api/v1/templates/ops")
        assert [(r["host"], r["refused"]) for r in detail["refused"]] == [("strict", 2)]
        assert detail["hosts_by_running"] == {"1": 1, "2": 1}, json.dumps(detail["hosts"])
        assert wait_for(lambda: c.results("open", "tmpl-echo"), 15)
        # strict keeps running v1: its template check goes on arriving, the refused one never runs
        n = c.results("strict", "tmpl-disk")
        assert wait_for(lambda: c.results("strict", "tmpl-disk") >= n + 3, 15)
        assert c.results("strict", "tmpl-echo") == 0
        shown = site.cli("show", "ops")
        assert "拒绝 v2: strict" in shown
        page = console_page(c, site, "/console/templates/ops")
        assert "拒绝此模板的主机" in page and '<a href="/console/hosts/strict">strict</a>' in page
        page = console_page(c, site, "/console/hosts/strict")
        assert f"代理报告运行 <code>{v1}</code>" in page and f"拒绝了 <code>{v2}</code>" in page

        site.cli("rollback", "ops")
        assert c.host_config("open")["version"] == v1
        assert wait_for(lambda: all(c.host_config(h)["reported_version"] == v1 for h in agents), 15)
        assert wait_for(lambda: c.get("/api/v1/templates/ops")["hosts_by_running"] == {"1": 2}, 10)
        assert kept_version(tmp_path, "open") == v1
        # v2 is withdrawn: strict no longer reports refusing it, and the template lists no refusal
        assert wait_for(lambda: c.host_config("strict")["refused_version"] == "", 10), c.host_config("strict")
        assert c.get("/api/v1/templates/ops")["refused"] == []

        # collector away: both keep running v1, results go to the spool
        before = {h: c.results(h, "tmpl-disk") for h in agents}
        c.stop()
        spooled = {h: spool_rows(tmp_path / h / "state") for h in agents}
        time.sleep(4)
        # an agent restarted meanwhile runs the last good version from disk
        assert agents["strict"].terminate() == 0
        agents["strict"].start()
        assert agents["strict"].wait_log(f"running central configuration {v1} kept from the last run", 20)
        time.sleep(4)
        for h, a in agents.items():
            assert a.alive(), a.log()
            assert spool_rows(tmp_path / h / "state") >= spooled[h] + 3, h
        down = time.monotonic()

        c.start()
        assert wait_for(lambda: all(c.results(h, "tmpl-disk") >= before[h] + 6 for h in agents), 30), \
            {h: (before[h], c.results(h, "tmpl-disk")) for h in agents}
        print(f"\nspooled results arrived {time.monotonic() - down:.1f}s after the collector came back")
        assert all(c.host_config(h)["reported_version"] == v1 for h in agents)
    finally:
        stop_all(list(agents.values()))
        c.stop()


# -- two collector processes on PostgreSQL --------------------------------------------------------


@pytest.mark.postgres
def test_two_collectors_one_version_one_rollout(pg_url: str, tmp_path: Path) -> None:
    """Five agents split over two processes: a staged version (40 %) gives each host the same version from
    either process, the agents run what they are given, both processes show one rollout; then a rollback."""
    names = [f"pg{i}" for i in range(5)]
    site = Site(pg_url, tmp_path, names)
    cs = [site.collector(0).start(), site.collector(1).start()]
    agents: dict[str, AgentProc] = {}

    def served() -> dict[str, str]:
        """host -> the version both processes serve it (asserted equal)."""
        got = {h: {c.host_config(h)["version"] for c in cs} for h in names}
        assert all(len(v) == 1 for v in got.values()), got
        return {h: v.pop() for h, v in got.items()}

    def reported() -> dict[str, str]:
        return {h: cs[i % 2].host_config(h)["reported_version"] for i, h in enumerate(names)}

    try:
        site.apply("pg-base", [disk_check("tmpl-disk", interval="2s")], 1)
        for i, h in enumerate(names):
            agents[h] = start_agent(tmp_path, cs[i % 2].url, h, site.tokens[h])
        first = served()
        v1 = first["pg0"]
        assert set(first.values()) == {v1}
        assert wait_for(lambda: all(applied(v1) in a.log() for a in agents.values()), 30)

        site.apply("pg-base", [disk_check("tmpl-disk", interval="2s"), disk_check("tmpl-new", interval="1s")], 2,
                   percent=40)
        staged = served()
        canary = {h for h in names if bucket(h) < 40}
        assert {h for h, v in staged.items() if v != v1} == canary
        assert wait_for(lambda: reported() == staged, 20), (reported(), staged)
        for c in cs:  # one rollout state, whichever process is asked
            d = c.get("/api/v1/templates/pg-base")
            assert d["percent"] == 40
            want = {k: n for k, n in {"1": len(names) - len(canary), "2": len(canary)}.items() if n}
            assert d["hosts_by_target"] == want and d["hosts_by_running"] == want, d
        assert wait_for(lambda: all(cs[0].results(h, "tmpl-new") for h in canary), 15)
        assert all(cs[0].results(h, "tmpl-new") == 0 for h in set(names) - canary)

        site.cli("rollback", "pg-base")
        assert served() == first
        assert wait_for(lambda: reported() == first, 20), reported()
        assert all(c.get("/api/v1/templates/pg-base")["hosts_by_running"] == {"1": len(names)} for c in cs)
    finally:
        stop_all(list(agents.values()))
        for c in cs:
            c.stop()


# -- the agentless poller against the real collector ----------------------------------------------


def test_agentless_poller_target_pulls_from_the_real_collector(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    """`xunjian-agent poll`: a target pulls its template checks with its own token, runs them over SSH (the
    loopback sshd) and reports the version the collector serves it; a rollback reaches it too."""
    site = Site(f"sqlite:///{tmp_path / 'xunjian.db'}", tmp_path, ["remote01"])
    c = site.collector().start()
    doc = poller_doc(tmp_path, [{"name": "remote01", "address": "127.0.0.1", "port": sshd.port,
                                 "token": site.tokens["remote01"],
                                 "checks": [disk_check("local-disk", interval="60s", timeout="20s")]}],
                     key=client_key, known=known_hosts(tmp_path, sshd), url=c.url, heartbeat="1s",
                     send={"flush_interval": "0.2s"})
    doc["collector"]["central"] = True
    config = tmp_path / "poller.yaml"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    log = tmp_path / "poller.log"
    proc = None
    try:
        site.apply("remote", [disk_check("tmpl-disk", interval="2s", timeout="20s")], 1)
        v1 = c.host_config("remote01")["version"]
        with open(log, "ab") as f:
            proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "poll", "--config", str(config)],
                                    cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
                                    stdout=f, stderr=f)
        assert wait_for(lambda: f"target remote01: {applied(v1)}" in log.read_text(), 30), log.read_text()
        assert wait_for(lambda: c.results("remote01", "tmpl-disk"), 30)
        assert wait_for(lambda: c.host_config("remote01")["reported_version"] == v1, 15)
        site.apply("remote", [disk_check("tmpl-disk", interval="2s", timeout="20s"),
                              disk_check("tmpl-new", interval="2s", timeout="20s")], 2)
        v2 = c.host_config("remote01")["version"]
        assert wait_for(lambda: applied(v2) in log.read_text(), 15)
        assert wait_for(lambda: c.results("remote01", "tmpl-new"), 30)
        assert wait_for(lambda: c.host_config("remote01")["reported_version"] == v2, 15)
        site.cli("rollback", "remote")
        assert wait_for(lambda: c.host_config("remote01")["reported_version"] == v1, 15)
        assert proc.poll() is None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        c.stop()
    assert "Traceback" not in log.read_text()
