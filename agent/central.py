"""Checks pulled from the collector's templates (`collector: {central: true}`).

`GET /api/v1/agent/config` answers `{"version", "checks", "sources"}` (ETag the version, 304 when the
agent already has it). A version is merged under the local YAML (a local check wins on a name clash)
and the whole result validated by the code that validates the local file; it is refused when it
brings a check type outside `central_allow` or holds a secret inline. A refused version never runs:
the running configuration stays. The last version that ran is kept in state_dir/central.json and runs
at the next start, whether or not the collector answers then.
"""
from __future__ import annotations

import http.client
import json
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from agent import __version__
from agent.backoff import uniform
from agent.config import AgentConfig, parse_checks, parse_config
from agent.transport import connection, exchange
from checks.base import atomic_write
from checks.options import ConfigError
from checks.text import clean_text

log = logging.getLogger(__name__)

PATH = "/api/v1/agent/config"
STORE = "central.json"
MAX_BYTES = 1024 * 1024    # a reply or stored file larger than this is refused (about 3,000 checks)
MAX_CHECKS = 1000
MAX_ERROR = 1024           # characters of config_refused.error
MAX_INT = 2**63 - 1
JITTER = 0.1               # polls every heartbeat x [0.9, 1.1]
_VERSION = re.compile(r"^[\x21\x23-\x7e]{1,64}$")  # what fits between the quotes of an ETag
# Option names that hold a credential when given a value; `<name>_env` and `<name>_file` are references.
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|private[-_]?key|credential"
                         r"|authorization|cookie", re.I)


@dataclass
class CentralConfig:
    """One version of the checks the collector gives this host."""

    version: str
    checks: list[dict[str, Any]]
    sources: dict[str, str] = field(default_factory=dict)  # check name -> "<template>@v<N>"

    def to_json(self) -> bytes:
        return json.dumps({"version": self.version, "checks": self.checks, "sources": self.sources},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- reading a version -------------------------------------------------------------------------


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _plain(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what no check option takes: control characters, lone surrogates, huge numbers, deep nesting."""
    if depth > 16:
        raise ConfigError(f"{where}: nested too deep")
    if isinstance(value, str):
        if clean_text(value) is not value:
            raise ConfigError(f"{where}: control characters (NUL, ...) or lone surrogates are not allowed")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            raise ConfigError(f"{where}: number out of range")
    elif isinstance(value, dict):
        for k, v in value.items():
            _plain(k, f"{where} (key)", depth + 1)
            _plain(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _plain(v, f"{where}[{i}]", depth + 1)


def parse_document(body: bytes) -> CentralConfig:
    """A version as the collector sends it (or central.json holds it); ConfigError says what is wrong."""
    if len(body) > MAX_BYTES:
        raise ConfigError(f"中央配置过大 (超过 {MAX_BYTES} 字节)")
    try:
        text = body.decode("utf-8")
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ConfigError("中央配置不是 UTF-8 文本") from None
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"中央配置不是有效的 JSON: {str(e)[:200]}") from None
    if not isinstance(data, dict):
        raise ConfigError("中央配置应为 JSON 对象 {version, checks, sources}")
    _plain(data, "central")
    version = data.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ConfigError(f"中央配置的 version 无效: {str(version)[:80]!r} (1 到 64 个可见 ASCII 字符)")
    checks = data.get("checks")
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise ConfigError(f"中央配置 {version} 的 checks 应为检查项映射的列表")
    if len(checks) > MAX_CHECKS:
        raise ConfigError(f"中央配置 {version} 的检查项过多 ({len(checks)} > {MAX_CHECKS})")
    sources = data.get("sources") or {}
    if not isinstance(sources, dict) or not all(isinstance(k, str) and isinstance(v, str) and len(v) <= 200
                                                for k, v in sources.items()):
        raise ConfigError(f"中央配置 {version} 的 sources 应为 检查名 -> \"模板@v版本\" 的映射")
    return CentralConfig(version=version, checks=checks, sources=sources)


def inline_secret(value: Any, where: str) -> Optional[str]:
    """Where `value` holds a credential itself rather than a reference to one, or None."""
    if isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            if (_SECRET_KEY.search(key) and not key.lower().endswith(("_env", "_file"))
                    and v not in (None, "", [], {})):
                return f"{where}.{key}"
            found = inline_secret(v, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = inline_secret(v, f"{where}[{i}]")
            if found:
                return found
    elif isinstance(value, str):
        if "PRIVATE KEY-----" in value:
            return where
        if "://" in value and "@" in value:
            try:
                if urlsplit(value.strip()).password:
                    return where
            except ValueError:
                pass
    return None


def admit(doc: CentralConfig, allowed: tuple[str, ...], local_names: set[str],
          runnable: Callable[[str], bool] = lambda type_name: True) -> list[dict[str, Any]]:
    """The raw checks of `doc` that join the local ones: each valid on its own, of an allowed type and
    without an inline secret (else ConfigError, the whole version is refused); a local check of the
    same name wins; a type `runnable` says cannot run here (agentless) is left out."""
    specs, by_name = parse_checks(doc.checks, "central checks")
    taken = []
    for i, spec in enumerate(specs):
        where = f"central checks[{i}] ({spec.name})"
        if spec.name in local_names:
            continue  # the local check of that name runs instead
        if spec.type not in allowed:
            raise ConfigError(f"{where}: 检查类型 {spec.type} 不在本机 collector.central_allow "
                              f"({', '.join(allowed) or '空'}) 中, 只能在本地配置")
        secret = inline_secret(by_name[spec.name], where)
        if secret:
            raise ConfigError(f"{secret}: 模板中不得直接写入口令或密钥, 请改用 password_env / password_file 引用")
        if runnable(spec.type):
            taken.append(by_name[spec.name])
    return taken


def sources_of(doc: CentralConfig, taken: list[dict[str, Any]]) -> dict[str, str]:
    return {c["name"]: doc.sources.get(c["name"]) or f"central {doc.version}" for c in taken}


def merge(local: AgentConfig, doc: CentralConfig) -> AgentConfig:
    """The effective configuration: `doc`'s checks under the local ones, validated as a whole by
    the code that validates the local file. ConfigError when `doc` must not run here."""
    taken = admit(doc, local.collector.allowed_central_types, set(local.raw_checks))
    raw_local = local.raw.get("checks") or []
    merged = parse_config({**local.raw, "checks": taken + list(raw_local)}, read_token=False)
    merged.token = local.token
    merged.central_version = doc.version
    merged.sources = sources_of(doc, taken)
    return merged


def one_line(text: str, limit: int = MAX_ERROR) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- the last good version on disk --------------------------------------------------------------


def save(state_dir: Path, doc: CentralConfig) -> None:
    """Atomically, mode 0600 (the checks name customers' paths and hosts); raises OSError."""
    path = Path(state_dir) / STORE
    atomic_write(path, doc.to_json())
    try:
        dfd = os.open(str(path.parent), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def load(state_dir: Path) -> Optional[CentralConfig]:
    """The last good version, or None (none kept; an unreadable or damaged file is logged)."""
    path = Path(state_dir) / STORE
    try:
        return _read_kept(state_dir)
    except OSError as e:
        log.warning("cannot read the last central configuration %s: %s", path, e)
        return None
    except ConfigError as e:
        log.warning("the last central configuration %s is damaged and not used: %s", path, e)
        return None


def effective(local: AgentConfig) -> tuple[AgentConfig, list[str]]:
    """The local config with the last good central version merged in (as the agent would start),
    and lines (zh-CN) that say what was found; for `validate` and `check`."""
    lines = [f"中央配置: 已开启 (central_allow: {', '.join(local.collector.allowed_central_types) or '无'})"]
    try:
        doc = _read_kept(local.state_dir)
    except (OSError, ConfigError) as e:
        lines.append(f"无法读取上次的中央配置 {Path(local.state_dir) / STORE}: {e}")
        return local, lines
    if doc is None:
        lines.append("尚无保存的中央配置版本: 启动后先运行本地检查项, 再按采集端下发的版本运行")
        return local, lines
    try:
        cfg = merge(local, doc)
    except ConfigError as e:
        lines.append(f"上次的中央配置版本 {doc.version} 在此配置下会被拒绝: {one_line(str(e), 300)}")
        return local, lines
    lines.append(f"上次有效的中央配置版本: {doc.version} (启动时运行, 采集端不可达时亦然)")
    return cfg, lines


def describe(local: AgentConfig) -> list[str]:
    """For `xunjian-agent validate`: the effective checks and where each comes from."""
    cfg, lines = effective(local)
    lines.append(f"生效的检查项 ({len(cfg.checks)} 项):")
    width = max([len(c.name) for c in cfg.checks] + [4])
    for spec in cfg.checks:
        source = f"中央 {cfg.sources[spec.name]}" if spec.name in cfg.sources else "本地"
        off = " (已停用)" if not spec.enabled else ""
        lines.append(f"  {spec.name.ljust(width)}  {spec.type.ljust(8)}  {source}{off}")
    return lines


def _read_kept(state_dir: Path) -> Optional[CentralConfig]:
    path = Path(state_dir) / STORE
    try:
        with open(path, "rb") as f:
            body = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise OSError(e.strerror or str(e)) from None
    return parse_document(body)


# -- what the agent runs and reports -------------------------------------------------------------


class CentralState:
    """The version that runs, the last refused one, and what the next poll names in If-None-Match."""

    def __init__(self) -> None:
        self.version: Optional[str] = None
        self.refused: Optional[dict[str, Any]] = None
        self.known: Optional[str] = None
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def applied(self, version: Optional[str]) -> None:
        with self._lock:
            self.version = self.known = version
            self.refused = None

    def refuse(self, version: Optional[str], error: str) -> bool:
        """Record a refusal; True the first time for this version (the caller logs it once)."""
        with self._lock:
            self.refused = {"version": version, "error": one_line(error)}
            if version is not None:
                self.known = version  # the collector answers 304 until it has a newer one
            key = version if version is not None else one_line(error, 200)
            first = key not in self._warned
            if len(self._warned) > 256:
                self._warned.clear()
            self._warned.add(key)
            return first

    def is_refused(self, version: str) -> bool:
        with self._lock:
            return self.refused is not None and self.refused.get("version") == version

    def confirmed(self) -> None:
        """The collector answered well for the running version: a refusal of an unversioned reply
        (garbage, a cut body) is over. A refused version stays reported until a newer one runs."""
        with self._lock:
            if self.refused is not None and self.refused.get("version") is None:
                self.refused = None

    def current(self) -> None:
        """The collector serves the running version again (a refused one withdrawn, by a rollback say):
        that refusal is over, and the next poll names the running version, so it is answered 304. The
        refused version stays warned about: behind a balancer, a process that has not yet seen a change
        must not get it logged twice."""
        with self._lock:
            self.known = self.version
            self.refused = None

    def reconsider(self) -> None:
        """The local config changed: a refused version is asked for and judged again."""
        with self._lock:
            self.known = self.version
            self.refused = None
            self._warned.clear()

    def dropped(self) -> None:
        """The running version no longer runs (refused under a reloaded local file); the refusal stays."""
        with self._lock:
            self.version = None

    def block(self) -> dict[str, Any]:
        with self._lock:
            return {"config_version": self.version,
                    "config_refused": dict(self.refused) if self.refused else None}


# -- polling -------------------------------------------------------------------------------------


@dataclass
class Poll:
    kind: str  # new | unchanged | refused | auth | unavailable
    doc: Optional[CentralConfig] = None
    version: Optional[str] = None  # of a refused reply, when it names one
    error: str = ""


def _etag(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    tag = value.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    return tag if _VERSION.match(tag) else None


def fetch(cfg: AgentConfig, known: Optional[str], context: Callable[[], Any]) -> Poll:
    """One GET of the central configuration over the agent's transport."""
    url = urlsplit(cfg.collector.url)
    headers = {"Authorization": f"Bearer {cfg.token}", "Accept": "application/json",
               "User-Agent": f"xunjian-agent/{__version__}"}
    if known:
        headers["If-None-Match"] = f'"{known}"'
    conn = connection(url, cfg.send.timeout, context() if url.scheme == "https" else None)
    try:
        reply = exchange(conn, "GET", url.path.rstrip("/") + PATH, headers=headers, limit=MAX_BYTES + 1,
                         deadline=time.monotonic() + 2 * cfg.send.timeout)
    except (OSError, http.client.HTTPException) as e:
        return Poll("unavailable", error=f"{type(e).__name__}: {e}")
    finally:
        conn.close()
    if reply.status == 304:
        return Poll("unchanged")
    if reply.status in (401, 403):
        return Poll("auth", error=f"http {reply.status}")
    if reply.status != 200:
        return Poll("unavailable", error=f"http {reply.status}")
    try:
        return Poll("new", parse_document(reply.body))
    except ConfigError as e:
        return Poll("refused", version=_etag(reply.headers.get("etag")), error=str(e))


class CentralPoller:
    """A thread that asks for the central configuration at start and every heartbeat (with jitter),
    and hands a version the agent does not run yet to `deliver` (the agent applies it on its main
    thread, as a SIGHUP reload)."""

    def __init__(self, cfg: Callable[[], AgentConfig], state: CentralState, context: Callable[[], Any],
                 deliver: Callable[[CentralConfig], None], prefix: str = "") -> None:
        self._cfg = cfg
        self.prefix = prefix  # "target db01: " in the agentless poller's log
        self.state = state
        self._context = context
        self._deliver = deliver
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._last_kind = ""

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="central", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # never let polling die; the running configuration stays
                log.exception("central configuration poll failed unexpectedly")
            self._wake.wait(self._cfg().heartbeat * uniform(1 - JITTER, 1 + JITTER))
            self._wake.clear()

    def poll_once(self) -> str:
        """One poll; returns its kind (new, unchanged, refused, auth, unavailable)."""
        cfg = self._cfg()
        p = fetch(cfg, self.state.known, self._context)
        kind, self._last_kind = self._last_kind, p.kind
        if p.kind == "unchanged":
            self.state.confirmed()
        elif p.kind == "new" and p.doc is not None and p.doc.version == self.state.version:
            self.state.current()
        elif p.kind == "new" and p.doc is not None:
            if not self.state.is_refused(p.doc.version):
                self._deliver(p.doc)
        elif p.kind == "refused":
            if self.state.refuse(p.version, p.error):
                log.warning("%scentral configuration %s refused, the running configuration stays: %s",
                            self.prefix, p.version or "(no version)", one_line(p.error, 300))
        elif p.kind == "auth" and kind != "auth":
            log.error("%scollector refused our token for the central configuration (%s); check the token",
                      self.prefix, p.error)
        elif p.kind == "unavailable" and kind != "unavailable":
            log.info("%scentral configuration not available (%s); running version %s", self.prefix, p.error,
                     self.state.version or "none (local checks only)")
        return p.kind
