"""Two real collector processes on one PostgreSQL and the CLI as a third: a template applied, staged and
rolled back from the command line reaches agents polling either process within the generation's life
(one second), each process answering the same version, and 304 for the version an agent holds."""
from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from collector.db import make_engine, make_sessionmaker
from collector.hosts import service as hosts
from tests.collector.templates_helpers import bucket, template
from tests.conftest import bin_path, free_port, run_cli, wait_http

pytestmark = pytest.mark.postgres
HOSTS = [f"e2e{i:02d}" for i in range(20)]


def poll(url: str, token: str, etag: str = "") -> tuple[int, str, bytes]:
    req = urllib.request.Request(url + "/api/v1/agent/config", headers={
        "Authorization": f"Bearer {token}", **({"If-None-Match": etag} if etag else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers["ETag"], r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers.get("ETag", ""), e.read()


def test_cli_changes_reach_both_processes(pg_url: str, tmp_path: Path) -> None:
    env = {"XUNJIAN_DB_URL": pg_url}
    cli = bin_path("xunjian-collector")
    run_cli(cli, "db", "upgrade", env=env)
    engine = make_engine(pg_url)
    with make_sessionmaker(engine)() as db:  # enrolled as `agent enroll` does, without a process each
        tokens = {h: hosts.enroll(db=db, name=h, unit="某市财政局")[1] for h in HOSTS}
        db.commit()
    engine.dispose()
    procs, urls = [], []
    try:
        for i in range(2):
            port = free_port()
            log = open(tmp_path / f"c{i}.log", "wb")
            procs.append(subprocess.Popen([cli, "serve", "--db", pg_url, "--port", str(port)], stdout=log,
                                          stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_http(url + "/healthz")
        empty = {poll(u, t)[1] for u in urls for t in tokens.values()}
        assert len(empty) == 1  # one version of the empty set, on both

        def settle(expect: dict[str, str]) -> float:
            """Seconds until every agent gets `expect[host]` (the voucher-log source) from both processes."""
            t0 = time.monotonic()
            while True:
                got = {(u, h): poll(u, t)[2] for u in urls for h, t in tokens.items()}
                if all(expect[h].encode() in body for (_, h), body in got.items()):
                    return time.monotonic() - t0
                assert time.monotonic() - t0 < 10, "not served within 10 s"
                time.sleep(0.1)

        f = tmp_path / "t.yaml"
        f.write_text(template(), encoding="utf-8")
        run_cli(cli, "template", "apply", str(f), env=env)
        assert settle({h: '"voucher-log":"voucher-base@v1"' for h in HOSTS}) < 3
        etags = {h: poll(urls[0], t)[1] for h, t in tokens.items()}
        assert all(poll(urls[1], t, etags[h])[0] == 304 for h, t in tokens.items())
        f.write_text(template(interval="45s"), encoding="utf-8")
        run_cli(cli, "template", "apply", str(f), "--percent", "25", env=env)
        settle({h: f'"voucher-log":"voucher-base@v{2 if bucket(h) < 25 else 1}"' for h in HOSTS})
        run_cli(cli, "template", "rollback", "voucher-base", env=env)
        assert settle({h: '"voucher-log":"voucher-base@v1"' for h in HOSTS}) < 3
        assert all(poll(u, t, etags[h])[0] == 304 for u in urls for h, t in tokens.items())  # v1 again
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
