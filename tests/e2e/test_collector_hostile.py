"""A real collector process against hostile clients: slow senders, floods of bad tokens, TLS, and secrets
that must never reach the log."""
from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector.factories import batch, result
from tests.conftest import bin_path, free_port, run_cli
from tests.helpers.certs import make_ca, make_cert

pytestmark = pytest.mark.slow


class Served:
    def __init__(self, db_url: str, workdir: Path, *extra: str, scheme: str = "http",
                 context: ssl.SSLContext | None = None) -> None:
        env = {"XUNJIAN_DB_URL": db_url}
        cli = bin_path("xunjian-collector")
        self.token = run_cli(cli, "agent", "enroll", "web01", env=env).strip().splitlines()[-1]
        self.key = run_cli(bin_path("xunjian-collector"), "user", "add", "admin", "--role", "admin",
                           env=env).strip().splitlines()[-1]
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.context = context
        self.log_path = workdir / "collector.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([bin_path("xunjian-collector"), "serve", "--db", db_url, "--port",
                                      str(self.port), *extra], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.request("GET", "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.context) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.log.close()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    s = Served(db_url, tmp_path, "--log-level", "debug")
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_security_headers_on_every_answer(served: Served) -> None:
    for method, path, token in (("GET", "/healthz", None), ("GET", "/api/v1/tickets", None),
                                ("GET", "/api/v1/nothing-here", None), ("POST", "/api/v1/results", "xja_bad"),
                                ("GET", "/openapi.json", None)):
        status, headers, _ = served.request(method, path, {"results": []} if method == "POST" else None, token)
        assert headers.get("x-content-type-options") == "nosniff", (path, status)
        assert headers.get("x-frame-options") in ("DENY", "SAMEORIGIN"), path
        assert "referrer-policy" in headers, path


def test_secrets_never_reach_the_log(served: Served) -> None:
    assert served.request("POST", "/api/v1/results", batch(result()), served.token)[0] == 200
    assert served.request("GET", "/api/v1/results?host=web01", token=served.key)[0] == 200
    status, _, body = served.request("POST", "/api/v1/agents", {"host": "web02"}, served.key)
    assert status == 200
    new_token = json.loads(body)["token"]
    served.request("POST", "/api/v1/results", batch(result()), served.token[:-4] + "AAAA")
    text = served.stop()
    assert "Uvicorn running" in text or "Application startup" in text  # the log was written
    for secret in (served.token, served.key, new_token, served.token[4:24], served.key[4:24]):
        assert secret not in text


def test_bad_token_flood_is_refused_cheaply_and_good_agents_go_on(served: Served) -> None:
    assert served.request("POST", "/api/v1/results", batch(result()), served.token)[0] == 200
    codes = [served.request("POST", "/api/v1/results", batch(result()), f"xja_guess{i}")[0] for i in range(40)]
    assert set(codes[:20]) == {401}
    assert codes[-1] == 429  # this address tried too many: its bad tokens are throttled
    # the known agent behind the same address keeps working
    assert served.request("POST", "/api/v1/results", batch(result()), served.token)[0] == 200
    status, _, body = served.request("GET", "/api/v1/results?limit=1000", token=served.key)
    assert status == 200 and len(json.loads(body)["items"]) == 2


def test_slow_client_does_not_block_others(served: Served) -> None:
    """Slowloris: a raw socket sends a request one byte a second; everybody else is served meanwhile."""
    stop = threading.Event()

    def slow() -> None:
        with socket.create_connection(("127.0.0.1", served.port)) as s:
            head = b"POST /api/v1/results HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
            for ch in head:
                if stop.is_set():
                    return
                try:
                    s.send(bytes([ch]))
                except OSError:
                    return
                time.sleep(1)

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(20)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        for _ in range(5):
            assert served.request("GET", "/healthz", timeout=5)[0] == 200
            assert served.request("POST", "/api/v1/results", batch(result()), served.token, timeout=5)[0] == 200
            time.sleep(0.5)
    finally:
        stop.set()


def test_collector_serves_https_with_its_certificate(tmp_path: Path) -> None:
    ca = make_ca()
    crt, key = make_cert("localhost", issuer=ca).write(tmp_path / "collector")
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    s = Served(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, "--ssl-certfile", str(crt), "--ssl-keyfile", str(key),
               scheme="https", context=ctx)
    try:
        status, headers, _ = s.request("POST", "/api/v1/results", batch(result()), s.token)
        assert status == 200 and headers["x-content-type-options"] == "nosniff"
        # plain HTTP on the TLS port gets nowhere
        with pytest.raises((OSError, urllib.error.URLError)):
            urllib.request.urlopen(f"http://127.0.0.1:{s.port}/healthz", timeout=5).read()
        # and a client that does not trust the CA refuses the server
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"https://127.0.0.1:{s.port}/healthz", timeout=5,
                                   context=ssl.create_default_context()).read()
    finally:
        s.stop()
