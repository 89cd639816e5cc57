"""The database out of reach: ingest and the API answer 503 with Retry-After, /healthz 503 naming the
database, and all is well again once it is back. The outage is a TCP proxy in front of the real
PostgreSQL, started and stopped by the test (the server itself is never touched)."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from tests.collector.conftest import Api
from tests.collector.factories import batch, result

pytestmark = pytest.mark.postgres


class Proxy:
    """Forwards 127.0.0.1:port to PostgreSQL; `down()` closes the port and cuts every connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None

    def up(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self.port = ls.getsockname()[1]
        self.listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def down(self) -> None:
        assert self.listener is not None
        try:  # wakes the thread blocked in accept(); close() alone leaves the port listening
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.listener = None
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.conns.clear()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def outage(pg_url: str) -> Iterator[tuple[Api, Proxy]]:
    parts = urlsplit(pg_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.up()
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    app = create_app(Settings(db_url=url, jobs_enabled=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client), proxy
        if proxy.listener is None:
            proxy.up()


def test_database_down_means_503_with_retry_after_and_back_means_200(outage: tuple[Api, Proxy]) -> None:
    api, proxy = outage
    at = datetime.now(timezone.utc) - timedelta(minutes=3)
    assert api.post_results(batch(result(at=at, seq=1))).status_code == 200
    assert api.client.get("/healthz").status_code == 200

    proxy.down()
    for _ in range(3):  # pooled connections die one by one; each request must still get 503
        r = api.post_results(batch(result(at=at + timedelta(seconds=1), seq=2)))
        assert r.status_code == 503, r.text
        assert int(r.headers["Retry-After"]) > 0
        r = api.client.get("/api/v1/tickets", headers=api.h(api.admin_key))
        assert r.status_code == 503, r.text
        assert int(r.headers["Retry-After"]) > 0
        r = api.client.get("/healthz")
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert f"127.0.0.1:{proxy.port}" in r.json()["database"]

    proxy.up()
    r = api.post_results(batch(result(at=at + timedelta(seconds=1), seq=2)))
    for _ in range(3):  # a connection the pool still held from before may fail once more
        if r.status_code == 200:
            break
        assert r.status_code == 503
        r = api.post_results(batch(result(at=at + timedelta(seconds=1), seq=2)))
    assert r.status_code == 200, r.text
    assert api.client.get("/healthz").status_code == 200
