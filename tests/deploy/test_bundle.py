"""The offline bundle: contents, checksums, a foreign target, and the host's Python checked against it."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from deploy.bundle import Bundle, build_bundle, open_bundle
from deploy.cli import main
from deploy.errors import DeployError


def names(bundle: Bundle) -> set[str]:
    return {w["file"].split("-")[0].lower() for w in bundle.manifest["wheels"]}


def test_bundle_holds_only_the_agent_and_its_deps(bundle_v1: Bundle) -> None:
    # ahocorasick-rs: the `fast` extra (log check); typing_extensions: its dependency below 3.12
    assert names(bundle_v1) == {"xunjian", "psutil", "pyyaml", "pip", "ahocorasick_rs", "typing_extensions"}
    assert bundle_v1.manifest["requirement"] == f"xunjian[fast]=={bundle_v1.version}"
    assert bundle_v1.manifest["extras"] == ["fast"] and bundle_v1.manifest["extras_left_out"] == {}
    sidecar = Path(f"{bundle_v1.path}.sha256").read_text().split()
    assert sidecar == [bundle_v1.sha256, bundle_v1.path.name]
    with tarfile.open(bundle_v1.path) as tar:
        for w in bundle_v1.manifest["wheels"]:
            f = tar.extractfile(f"{bundle_v1.top}/wheels/{w['file']}")
            assert f is not None and hashlib.sha256(f.read()).hexdigest() == w["sha256"]
        manifest = json.loads(tar.extractfile(f"{bundle_v1.top}/manifest.json").read())  # type: ignore[union-attr]
    assert manifest == bundle_v1.manifest


def test_open_bundle_refuses_a_corrupt_copy(bundle_v1: Bundle, tmp_path: Path) -> None:
    copy = tmp_path / bundle_v1.path.name
    shutil.copy(bundle_v1.path, copy)
    shutil.copy(f"{bundle_v1.path}.sha256", f"{copy}.sha256")
    assert open_bundle(copy).sha256 == bundle_v1.sha256
    with copy.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(DeployError, match="sha256"):
        open_bundle(copy)


@pytest.fixture(scope="session")
def bundle_py39(bundle_dir: Path) -> Bundle:
    return build_bundle(bundle_dir / "py39", python_version="3.9", platform_tag="manylinux2014_x86_64")


@pytest.mark.slow
def test_bundle_for_another_python(bundle_py39: Bundle) -> None:
    files = [w["file"] for w in bundle_py39.manifest["wheels"]]
    assert bundle_py39.python == "3.9" and bundle_py39.path.name.endswith("-py3.9-manylinux2014_x86_64.tar.gz")
    assert any(f.startswith("pyyaml-") and "cp39" in f for f in files), files
    assert any(f.startswith("psutil-") and ("abi3" in f or "cp39" in f) for f in files), files
    # ahocorasick-rs 1.x needs 3.10: the last release with 3.9 wheels is taken
    assert any(f.startswith("ahocorasick_rs-0.22.") and "cp39" in f and "x86_64" in f for f in files), files
    assert bundle_py39.manifest["requirement"] == f"xunjian[fast]=={bundle_py39.version}"


@pytest.mark.slow
@pytest.mark.parametrize("python", ["3.9", "3.12"])
def test_bundle_for_arm64_holds_the_fast_extra(bundle_dir: Path, python: str) -> None:
    b = build_bundle(bundle_dir / f"arm-{python}", python_version=python, platform_tag="manylinux2014_aarch64")
    files = [w["file"] for w in b.manifest["wheels"]]
    tag = "cp" + python.replace(".", "")
    assert any(f.startswith("ahocorasick_rs-") and tag in f and "aarch64" in f for f in files), files
    assert b.manifest["extras"] == ["fast"]


@pytest.mark.slow
def test_bundle_without_wheels_for_the_extra_still_builds(bundle_dir: Path, tmp_path: Path) -> None:
    """No wheel for the target: the extra is left out and said so; the agent runs without it."""
    src = tmp_path / "xunjian"
    shutil.copytree(Path(__file__).resolve().parents[2], src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "tests", "var"))
    pyproject = src / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert 'fast = ["ahocorasick-rs>=0.22"]' in text
    pyproject.write_text(text.replace('fast = ["ahocorasick-rs>=0.22"]', 'fast = ["ahocorasick-rs>=99"]'),
                         encoding="utf-8")
    b = build_bundle(bundle_dir / "no-fast", source=src)
    assert names(b) == {"xunjian", "psutil", "pyyaml", "pip"}
    assert b.manifest["requirement"] == f"xunjian=={b.version}"
    assert b.manifest["extras"] == [] and "ahocorasick-rs" in b.manifest["extras_left_out"]["fast"]


@pytest.mark.slow
def test_install_refuses_a_bundle_for_another_python(tmp_path: Path, sshd: Any, make_inventory: Any,
                                                     bundle_py39: Bundle, capfd: pytest.CaptureFixture[str]) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    inv = make_inventory([{"name": "py01", "address": "127.0.0.1", "port": sshd.port}], known_hosts=known)
    assert main(["install", "-i", str(inv), "--bundle", str(bundle_py39.path)]) == 1
    out = capfd.readouterr().out
    assert "安装包为 3.9" in out and "bundle --python" in out
    assert not (tmp_path / "root/opt/xunjian-agent/releases").exists()


def test_cli_bundle(tmp_path: Path) -> None:
    """Through the installed console script, as an operator runs it."""
    exe = Path(sys.executable).parent / "xunjian-deploy"
    proc = subprocess.run([str(exe), "bundle", "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    built = list(tmp_path.glob("xunjian-agent-*.tar.gz"))
    assert len(built) == 1 and str(built[0]) in out and "sha256" in out
