"""The offline bundle: the project's wheel plus the agent's own dependencies, built once, copied to hosts.

Layout of `xunjian-agent-<version>-py<X.Y>-<platform>.tar.gz`:

    xunjian-agent-<version>/manifest.json   name, version, python, platform, requirement, wheels + sha256
    xunjian-agent-<version>/wheels/*.whl    xunjian, psutil, PyYAML, pip, and the optional extras below

Optional extras (BUNDLED_EXTRAS, e.g. `fast`: ahocorasick-rs for the log check) go in when the
target Python and platform have wheels for them; then the requirement installed is `xunjian[fast]`.
Without them (`extras_left_out` in the manifest) the agent runs its pure-Python paths.
A `<bundle>.sha256` file in `sha256sum` format sits beside it. pip itself is bundled so a host needs
neither network nor ensurepip: the release's venv is made `--without-pip` and pip is run from its wheel.
"""
from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.errors import DeployError

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None  # type: ignore[assignment]

PROJECT = "xunjian"
# Extras that only speed the agent up: bundled where wheels exist, left out (and said so) elsewhere.
BUNDLED_EXTRAS = ("fast",)


@dataclass
class Bundle:
    path: Path
    sha256: str
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def python(self) -> str:
        return str(self.manifest["python"])

    @property
    def top(self) -> str:
        return f"xunjian-agent-{self.version}"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _core_requirements(source: Path) -> list[str]:
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    if tomllib is not None:
        return list(tomllib.loads(text)["project"]["dependencies"])
    m = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []


def _extra_requirements(source: Path, extra: str) -> list[str]:
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    if tomllib is not None:
        return list(tomllib.loads(text)["project"].get("optional-dependencies", {}).get(extra, []))
    m = re.search(rf"^{re.escape(extra)}\s*=\s*\[(.*?)\]", text, re.S | re.M)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []


def local_platform() -> str:
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _pip(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise DeployError(f"pip {args[0]} 失败:\n{tail}")


def build_bundle(out_dir: str | Path, source: str | Path | None = None, python_version: str | None = None,
                 platform_tag: str | None = None, find_links: str | None = None) -> Bundle:
    """Build the bundle for a target Python (`3.9`) and platform (`manylinux2014_x86_64`), or this one."""
    src = Path(source) if source else project_root()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    py = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    if not re.fullmatch(r"3\.\d+", py):
        raise DeployError(f"--python 应形如 3.9，而不是 {py!r}")
    plat = platform_tag or local_platform()
    with tempfile.TemporaryDirectory(prefix="xunjian-bundle-") as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        # Build from a copy so concurrent edits and build/ leftovers never touch the source tree.
        tree = Path(tmp) / "src"
        shutil.copytree(src, tree, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
            ".hypothesis", "tests", "bench", "var", "artifacts"))
        _pip(["wheel", "--no-deps", "-q", "-w", str(wheels), str(tree)])
        project_wheels = list(wheels.glob(f"{PROJECT}-*.whl"))
        if len(project_wheels) != 1:
            raise DeployError("未能构建项目 wheel")
        version = project_wheels[0].name.split("-")[1]
        target = ["--only-binary=:all:"]
        if python_version or platform_tag:
            target += ["--python-version", py, "--platform", plat]
            if plat.startswith("linux_"):
                # A linux_<arch> host also takes the manylinux wheels that PyPI serves.
                arch = plat.split("_", 1)[1]
                target += ["--platform", f"manylinux2014_{arch}", "--platform", f"manylinux_2_28_{arch}"]
        links = ["--find-links", find_links] if find_links else []
        _pip(["download", "-q", "-d", str(wheels), *target, *links, *_core_requirements(src), "pip"])
        extras: list[str] = []
        left_out: dict[str, str] = {}
        for extra in BUNDLED_EXTRAS:
            reqs = _extra_requirements(src, extra)
            if not reqs:
                continue
            got = Path(tmp) / f"extra-{extra}"
            try:  # its own directory: a failed resolution leaves nothing behind in wheels/
                _pip(["download", "-q", "-d", str(got), *target, *links, *reqs])
            except DeployError as e:
                left_out[extra] = str(e).splitlines()[-1][:300]
                continue
            for p in got.iterdir():
                if not (wheels / p.name).exists():
                    shutil.move(str(p), wheels / p.name)
            extras.append(extra)
        files = sorted(wheels.glob("*.whl"))
        sdists = [p.name for p in wheels.iterdir() if not p.name.endswith(".whl")]
        if sdists:
            raise DeployError(f"只能打包 wheel，发现源码包: {', '.join(sdists)}")
        manifest = {
            "name": "xunjian-agent",
            "version": version,
            "requirement": f"{PROJECT}[{','.join(extras)}]=={version}" if extras else f"{PROJECT}=={version}",
            "extras": extras,
            "extras_left_out": left_out,
            "python": py,
            "platform": plat,
            "built_on": f"{platform.system()} {platform.machine()} Python {platform.python_version()}",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wheels": [{"file": p.name, "sha256": sha256_file(p)} for p in files],
        }
        top = f"xunjian-agent-{version}"
        name = f"{top}-py{py}-{plat}.tar.gz"
        final = out / name
        partial = out / f".{name}.partial"
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
            info = tarfile.TarInfo(f"{top}/manifest.json")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
            for p in files:
                tar.add(p, arcname=f"{top}/wheels/{p.name}")
        partial.replace(final)
    digest = sha256_file(final)
    Path(f"{final}.sha256").write_text(f"{digest}  {final.name}\n", encoding="ascii")
    return Bundle(final, digest, manifest)


def open_bundle(path: str | Path) -> Bundle:
    """Read a bundle's manifest and check it against its `.sha256` file when present."""
    p = Path(path)
    if not p.is_file():
        raise DeployError(f"找不到安装包 {p}")
    digest = sha256_file(p)
    sidecar = Path(f"{p}.sha256")
    if sidecar.exists():
        expected = sidecar.read_text(encoding="ascii").split()[0]
        if expected != digest:
            raise DeployError(f"安装包 {p.name} 的 sha256 与 {sidecar.name} 不符，可能已损坏")
    try:
        with tarfile.open(p, "r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith("/manifest.json")), None)
            if member is None:
                raise DeployError(f"{p.name} 中没有 manifest.json")
            f = tar.extractfile(member)
            assert f is not None
            manifest = json.loads(f.read().decode("utf-8"))
    except (tarfile.TarError, OSError, ValueError) as e:
        raise DeployError(f"无法读取安装包 {p.name}: {e}") from None
    # The version names remote paths and goes into shell commands: only PEP 440 characters.
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}", str(manifest.get("version", ""))):
        raise DeployError(f"{p.name}: manifest 中的版本号无效")
    return Bundle(p, digest, manifest)
