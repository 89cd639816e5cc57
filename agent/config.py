"""The agent's YAML configuration: parsed, validated and defaulted in one place.

Errors are `checks.options.ConfigError` whose message names the offending key, e.g.
`checks[2] (voucher-log).patterns: ...` or `send.timeout: not a duration`.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional
from urllib.parse import urlsplit

from checks.model import MAX_NAME_LEN
from checks.options import ConfigError, Duration, Size, build, parse_duration
from checks.registry import known_types
from checks.spec import CheckSpec, parse_spec
from checks.text import clean_text

MAX_BATCH = 1000  # wire limit: results per request
MAX_BATCH_BYTES = 4 * 1024 * 1024  # wire limit: request body
# Check types a collector template may bring unless `collector.central_allow` says otherwise: the
# ones that run no program and log in nowhere. Left out: command (runs a program), mq (runs
# rabbitmqctl/runmqsc/tlqstat or its own `command`, and logs in to the broker), sql (logs in to a
# database). A type added later is left out until it is listed here.
DEFAULT_CENTRAL_ALLOW = ("cert", "dirsize", "disk", "http", "log", "process", "system", "tcp")


@dataclass
class CollectorOptions:
    """Where results go and how the agent proves who it is."""

    url: str
    token: Optional[str] = None
    token_file: Optional[str] = None
    ca_file: Optional[str] = None  # for https with a private CA
    central: bool = False  # pull checks from the collector's templates (agent/central.py)
    central_allow: Optional[list[str]] = None  # check types a template may bring; None: DEFAULT_CENTRAL_ALLOW

    def validate(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url {self.url!r} must look like http://host:port")
        if self.token is not None and self.token_file is not None:
            raise ValueError("give token or token_file, not both")
        if self.token is None and self.token_file is None:
            raise ValueError("token or token_file is required")
        if self.central_allow is not None:
            types = known_types()
            for name in self.central_allow:
                if name not in types:
                    raise ValueError(f"central_allow: {name!r} is not a check type ({', '.join(types)})")

    @property
    def allowed_central_types(self) -> tuple[str, ...]:
        return DEFAULT_CENTRAL_ALLOW if self.central_allow is None else tuple(self.central_allow)


@dataclass
class HostOptions:
    """The name and labels this agent reports."""

    name: Optional[str] = None
    labels: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        # They go into every batch: text the collector would refuse would hold up every result.
        if self.name is not None and not 0 < len(self.name) <= MAX_NAME_LEN:
            raise ValueError(f"name: 1 to {MAX_NAME_LEN} characters")
        for where, text in [("name", self.name or ""), *((f"labels.{k}", f"{k}{v}") for k, v in self.labels.items())]:
            if clean_text(text) != text:
                raise ValueError(f"{where}: control characters (NUL, ...) are not allowed")


@dataclass
class SpoolOptions:
    """Limits of the local spool."""

    # Measured on disk (database + WAL); holds max_age of the typical load with margin
    # (sizing table in docs/agent.md).
    max_bytes: Size = 256 * 1024 * 1024
    max_age: Duration = 7 * 86400
    memory_results: int = 1000  # the in-memory queue used while the disk is full

    def validate(self) -> None:
        if self.max_bytes < 64 * 1024:
            raise ValueError("max_bytes: at least 64KiB")
        if self.max_age < 60:
            raise ValueError("max_age: at least 60s")
        if self.memory_results < 1:
            raise ValueError("memory_results: at least 1")


@dataclass
class SendOptions:
    """How results are batched and sent."""

    batch_size: int = 500
    flush_interval: Duration = 2
    timeout: Duration = 10
    max_backoff: Duration = 300
    gzip_min_bytes: Size = 4096

    def validate(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size: between 1 and {MAX_BATCH}")
        if self.flush_interval <= 0 or self.timeout <= 0 or self.max_backoff < 1:
            raise ValueError("flush_interval and timeout must be positive, max_backoff at least 1s")


@dataclass
class MetricsOptions:
    """The optional local Prometheus endpoint."""

    listen: Optional[str] = None  # "127.0.0.1:9910"; off when unset

    def validate(self) -> None:
        if self.listen is not None:
            listen_address(self.listen)


@dataclass
class LogOptions:
    """The agent's own log."""

    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass
class AgentConfig:
    """A validated agent configuration."""

    collector: CollectorOptions
    host: str
    labels: dict[str, str]
    state_dir: Path
    checks: list[CheckSpec]
    raw_checks: dict[str, dict[str, Any]]  # name -> its YAML mapping, to tell changed checks on reload
    spool: SpoolOptions = field(default_factory=SpoolOptions)
    send: SendOptions = field(default_factory=SendOptions)
    heartbeat: float = 30.0
    metrics: MetricsOptions = field(default_factory=MetricsOptions)
    log: LogOptions = field(default_factory=LogOptions)
    token: str = ""
    raw: dict[str, Any] = field(default_factory=dict)  # the mapping it was parsed from
    sources: dict[str, str] = field(default_factory=dict)  # check name -> "<template>@v<N>" for central ones
    central_version: Optional[str] = None  # the collector's config version merged in, if any

    @property
    def enabled_checks(self) -> list[CheckSpec]:
        return [c for c in self.checks if c.enabled]


TOP_KEYS = ("collector", "host", "state_dir", "checks", "spool", "send", "heartbeat", "metrics", "log")


def listen_address(text: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"listen {text!r} must be host:port, e.g. 127.0.0.1:9910")
    return host.strip("[]") or "127.0.0.1", int(port)


def load_config(path: str | Path, *, read_token: bool = True) -> AgentConfig:
    """Read and validate a config file; `read_token=False` skips reading token_file (for `check`)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 ({e})") from None
    return parse_config(read_yaml(text, str(path)), read_token=read_token)


def read_yaml(text: str, where: str) -> Any:
    """Parse YAML with PyYAML's pure-Python SafeLoader (what `safe_load` uses in any case).

    PyYAML's optional C extension is blocked when this process has not imported PyYAML yet: `import
    yaml` would otherwise map `_yaml.so` for CSafeLoader, which `safe_load` never uses, and a mapped
    shared object stays resident for the daemon's life (about 0.8 MiB)."""
    import sys

    if "yaml" not in sys.modules:
        sys.modules.setdefault("yaml._yaml", None)  # type: ignore[arg-type]  # import yaml then skips cyaml
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None


def parse_config(data: Any, *, read_token: bool = True) -> AgentConfig:
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping with collector, host, state_dir and checks")
    for key in data:
        if key not in TOP_KEYS:
            import difflib  # only for an error message
            close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key {key!r}{hint}")
    if "collector" not in data:
        raise ConfigError("collector: missing (collector: {url: ..., token: ...})")
    collector = build(CollectorOptions, data["collector"], "collector")
    host = build(HostOptions, data.get("host"), "host")
    state_dir = data.get("state_dir", "/var/lib/xunjian-agent")
    if not isinstance(state_dir, str) or not state_dir:
        raise ConfigError("state_dir: expected a directory path")
    try:
        heartbeat = parse_duration(data.get("heartbeat", 30))
    except ValueError as e:
        raise ConfigError(f"heartbeat: {e}") from None
    if heartbeat < 1:
        raise ConfigError("heartbeat: at least 1s")
    specs, by_name = parse_checks(data.get("checks"), "checks")
    cfg = AgentConfig(
        collector=collector,
        host=host.name or os.uname().nodename,  # gethostname(), without importing socket
        labels=host.labels,
        state_dir=Path(state_dir),
        checks=specs,
        raw_checks=by_name,
        spool=build(SpoolOptions, data.get("spool"), "spool"),
        send=build(SendOptions, data.get("send"), "send"),
        heartbeat=heartbeat,
        metrics=build(MetricsOptions, data.get("metrics"), "metrics"),
        log=build(LogOptions, data.get("log"), "log"),
        raw=data,
    )
    if collector.token is not None:
        cfg.token = collector.token
    elif read_token and collector.token_file is not None:
        cfg.token = read_token_file(collector.token_file)
    return cfg


def read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"collector.token_file: cannot read {path}: {e.strerror or e}") from None
    if not token:
        raise ConfigError(f"collector.token_file: {path} is empty")
    return token


def parse_checks(raw_checks: Any, where: str,
                 parse: Callable[[Any, str], CheckSpec] = parse_spec) -> tuple[list[CheckSpec], dict[str, Any]]:
    """The `checks:` list: (specs in order, raw entry by name); duplicate names are refused."""
    if raw_checks is None:
        raw_checks = []
    if not isinstance(raw_checks, list):
        raise ConfigError(f"{where}: expected a list of checks")
    specs: list[CheckSpec] = []
    by_name: dict[str, Any] = {}
    for i, raw in enumerate(raw_checks):
        spec = parse(raw, f"{where}[{i}]")
        if spec.name in by_name:
            raise ConfigError(f"{where}[{i}].name: duplicate check name {spec.name!r}")
        by_name[spec.name] = raw
        specs.append(spec)
    return specs, by_name
