"""Real sshd servers on loopback, a real collector, and the offline bundles (built once per session)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.bundle import Bundle, build_bundle, project_root
from tests.helpers import sshd as _sshd
from tests.helpers.sshd import SSHD, Sshd, free_port, keygen, wait_port  # noqa: F401  (used by tests here)

# The sshd fixtures live in tests/helpers/sshd.py (shared with tests/agent).
client_key = _sshd.client_key
sshd_factory = _sshd.sshd_factory
sshd = _sshd.sshd

VENV_BIN = Path(sys.executable).parent
API_KEY_ENV = "XUNJIAN_TEST_ADMIN_KEY"


@dataclass
class CollectorServer:
    url: str
    api_key: str
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorServer]:
    """The real collector (`xunjian-collector serve`) on SQLite, with an admin API key."""
    d = tmp_path_factory.mktemp("collector")
    db = f"sqlite:///{d}/collector.db"
    exe = str(VENV_BIN / "xunjian-collector")
    out = subprocess.run([exe, "user", "add", "deploy-admin", "--role", "admin", "--db", db],
                         capture_output=True, text=True, check=True)
    api_key = out.stdout.strip().splitlines()[-1]
    port = free_port()
    log = (d / "collector.log").open("wb")
    proc = subprocess.Popen([exe, "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, 30)
        yield CollectorServer(f"http://127.0.0.1:{port}", api_key, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="session")
def bundle_v1(bundle_dir: Path) -> Bundle:
    return build_bundle(bundle_dir / "v1")


def _bumped_source(tmp_path_factory: pytest.TempPathFactory, base: Bundle, bump: int) -> tuple[Path, str]:
    """A copy of the project whose version is `bump` patch levels above `base`."""
    src = tmp_path_factory.mktemp("src") / "xunjian"
    shutil.copytree(project_root(), src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "tests", "var"))
    major, minor, patch = base.version.split(".")[:3]
    bumped = f"{major}.{minor}.{int(patch) + bump}"
    pyproject = src / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{bumped}"', pyproject.read_text()))
    return src, bumped


@pytest.fixture(scope="session")
def bundle_v2(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory, bundle_v1: Bundle) -> Bundle:
    """The same project with its version bumped one patch level."""
    src, _ = _bumped_source(tmp_path_factory, bundle_v1, 1)
    return build_bundle(bundle_dir / "v2", source=src)


@pytest.fixture(scope="session")
def bundle_broken(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory, bundle_v1: Bundle) -> Bundle:
    """A release whose agent passes --version and validate but dies on `run` (a bad upgrade)."""
    src, _ = _bumped_source(tmp_path_factory, bundle_v1, 2)
    with (src / "agent" / "cli.py").open("a", encoding="utf-8") as f:
        f.write('''

import sys as _sys

_released_main = main


def main(argv=None):  # type: ignore[no-redef]
    if (argv if argv is not None else _sys.argv[1:])[:1] == ["run"]:
        raise SystemExit("broken release (test)")
    return _released_main(argv)
''')
    return build_bundle(bundle_dir / "broken", source=src)


@pytest.fixture
def make_inventory(tmp_path: Path, client_key: Path, collector: CollectorServer,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """make_inventory(hosts, known_hosts=..., prefix=..., **top_level) -> inventory path.

    Sets the admin key in the environment, as an operator would; stops left-over agents afterwards.
    """
    monkeypatch.setenv(API_KEY_ENV, collector.api_key)
    prefixes: list[Path] = []

    def make(hosts: list[dict[str, Any]], known_hosts: Path, prefix: Path | None = None,
             name: str = "inventory.yaml", **extra: Any) -> Path:
        prefix = prefix or tmp_path / "root"
        prefixes.append(prefix)
        return write_inventory(tmp_path / name, client_key=client_key, known_hosts=known_hosts,
                               collector=collector, hosts=hosts, prefix=prefix, **extra)

    yield make
    for p in prefixes:
        kill_agents(p)


def write_inventory(path: Path, *, client_key: Path, known_hosts: Path, collector: CollectorServer,
                    hosts: list[dict[str, Any]], prefix: Path, **extra: Any) -> Path:
    doc = {
        "defaults": {"user": "root", "port": 22, "key": str(client_key), "sudo": False,
                     "known_hosts": str(known_hosts),
                     # the bundle is built for this interpreter's version; the "host" is this machine
                     "python": getattr(sys, "_base_executable", sys.executable),
                     "agent": {"heartbeat": "5s", "send": {"flush_interval": "0.2s"}},
                     "checks": [{"name": "root-disk", "type": "disk", "system": "os", "interval": "5s",
                                 "mounts": ["/"]}]},
        "collector": {"url": collector.url, "api_key_env": API_KEY_ENV},
        "prefix": str(prefix),
        "hosts": hosts,
        **extra,
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def kill_agents(prefix: Path) -> None:
    """Safety net after a failed test: stop any agent a test started under `prefix`."""
    pidfile = prefix / "var/lib/xunjian-agent/agent.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if str(prefix).encode() in cmdline:
        os.kill(pid, signal.SIGKILL)
