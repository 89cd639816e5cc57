"""The poller's configuration: the collector, SSH defaults, jump hosts and the targets with their checks
(the whole file with every key: docs/agentless.md).

Each target is its own host to the collector (its own enrolled token); each gets an AgentConfig so
the agent's spool and sender work for it unchanged.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from agent.agentless.ssh import SshEndpoint
from agent.config import (
    AgentConfig,
    CollectorOptions,
    LogOptions,
    SendOptions,
    SpoolOptions,
    parse_checks,
    read_token_file,
    read_yaml,
)
from checks.options import ConfigError, build, parse_duration
from checks.spec import CheckSpec, parse_spec

AGENTLESS_TYPES = ("disk", "log", "process", "command")
TOP_KEYS = ("collector", "state_dir", "parallel", "defaults", "jump_hosts", "targets", "spool", "send",
            "heartbeat", "log")
SSH_KEYS = ("address", "port", "user", "key", "known_hosts", "trust_on_first_use", "password_env",
            "connect_timeout", "jump")
TARGET_KEYS = (*SSH_KEYS, "name", "labels", "token", "token_file", "checks", "enabled")


@dataclass
class TargetConfig:
    name: str
    ssh: SshEndpoint
    agent: AgentConfig  # host, labels, token, state_dir (per target), checks: what its sender needs
    enabled: bool = True

    @property
    def checks(self) -> list[CheckSpec]:
        return self.agent.enabled_checks


@dataclass
class PollerConfig:
    state_dir: Path
    parallel: int
    targets: list[TargetConfig] = field(default_factory=list)
    log: LogOptions = field(default_factory=LogOptions)


def load_poller_config(path: str | Path, *, read_token: bool = True) -> PollerConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_poller_config(read_yaml(text, str(path)), read_token=read_token)


def _keys(data: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    for key in data:
        if key not in allowed:
            import difflib  # only for an error message
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")
    return data


def _duration(value: Any, where: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def _endpoint(raw: dict[str, Any], defaults: dict[str, Any], jumps: dict[str, SshEndpoint],
              where: str) -> SshEndpoint:
    merged = {**defaults, **raw}
    address = merged.get("address")
    if not isinstance(address, str) or not address:
        raise ConfigError(f"{where}.address: required")
    port = merged.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}.port: expected 1..65535")
    for key in ("user", "key", "known_hosts", "password_env"):
        if merged.get(key) is not None and not isinstance(merged[key], str):
            raise ConfigError(f"{where}.{key}: expected a string")
    tofu = merged.get("trust_on_first_use", False)
    if not isinstance(tofu, bool):
        raise ConfigError(f"{where}.trust_on_first_use: expected true or false")
    jump = merged.get("jump")
    jump_ep: Optional[SshEndpoint] = None
    if isinstance(jump, str):
        if jump not in jumps:
            raise ConfigError(f"{where}.jump: {jump!r} is not in jump_hosts")
        jump_ep = jumps[jump]
    elif isinstance(jump, dict):
        jump_ep = _endpoint(_keys(jump, SSH_KEYS, f"{where}.jump"), {**defaults, "jump": None}, {},
                            f"{where}.jump")
    elif jump is not None:
        raise ConfigError(f"{where}.jump: a jump_hosts name or a mapping")
    key = merged.get("key")
    return SshEndpoint(address=address, port=port, user=merged.get("user") or "root",
                       key=str(Path(key).expanduser()) if key else None,
                       known_hosts=merged.get("known_hosts"), trust_on_first_use=tofu,
                       password_env=merged.get("password_env"),
                       connect_timeout=_duration(merged.get("connect_timeout", 10), f"{where}.connect_timeout"),
                       jump=jump_ep)


def _check_spec(raw: Any, where: str) -> CheckSpec:
    spec = parse_spec(raw, where)
    if spec.type not in AGENTLESS_TYPES:
        raise ConfigError(f"{where} ({spec.name}).type: agentless targets run {', '.join(AGENTLESS_TYPES)}, "
                          f"not {spec.type!r}")
    if spec.type == "log":
        bad = [p for p in spec.options.paths if not p.startswith(("/", "~"))]
        if bad:
            raise ConfigError(f"{where} ({spec.name}).paths: {bad[0]!r} must be an absolute path on the target")
    return spec


def parse_poller_config(data: Any, *, read_token: bool = True) -> PollerConfig:
    data = _keys(data, TOP_KEYS, "poller config")
    if "collector" not in data:
        raise ConfigError("collector: missing (collector: {url: ...})")
    raw_collector = dict(_keys(data["collector"], ("url", "ca_file", "central", "central_allow"), "collector"))
    state_dir = data.get("state_dir", "/var/lib/xunjian-poller")
    if not isinstance(state_dir, str) or not state_dir:
        raise ConfigError("state_dir: expected a directory path")
    parallel = data.get("parallel", 8)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= 256:
        raise ConfigError("parallel: between 1 and 256")
    defaults = dict(_keys(data.get("defaults"), tuple(k for k in SSH_KEYS if k != "address"), "defaults"))
    jumps: dict[str, SshEndpoint] = {}
    raw_jumps = data.get("jump_hosts") or {}
    if not isinstance(raw_jumps, dict):
        raise ConfigError("jump_hosts: expected a mapping of name -> {address, ...}")
    for name, raw in raw_jumps.items():
        jumps[str(name)] = _endpoint(_keys(raw, SSH_KEYS, f"jump_hosts.{name}"), {**defaults, "jump": None}, {},
                                     f"jump_hosts.{name}")
    heartbeat = _duration(data.get("heartbeat", 30), "heartbeat")
    spool = build(SpoolOptions, data.get("spool"), "spool")
    send = build(SendOptions, data.get("send"), "send")
    log = build(LogOptions, data.get("log"), "log")
    raw_targets = data.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise ConfigError("targets: expected a list of servers to inspect")
    targets: list[TargetConfig] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_targets):
        where = f"targets[{i}]"
        raw = _keys(raw, TARGET_KEYS, where)
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}.name: the host name the collector knows (required)")
        where = f"{where} ({name})"
        if name in names:
            raise ConfigError(f"{where}.name: duplicate target")
        names.add(name)
        ssh = _endpoint({k: v for k, v in raw.items() if k in SSH_KEYS}, defaults, jumps, where)
        collector = build(CollectorOptions, {**raw_collector, **{k: raw[k] for k in ("token", "token_file")
                                                                  if k in raw}}, where)
        specs, by_name = parse_checks(raw.get("checks") or [], f"{where}.checks", parse=_check_spec)
        labels = raw.get("labels") or {}
        if not isinstance(labels, dict):
            raise ConfigError(f"{where}.labels: expected a mapping")
        agent = AgentConfig(collector=collector, host=name, labels={str(k): str(v) for k, v in labels.items()},
                            state_dir=Path(state_dir) / "targets" / name, checks=specs, raw_checks=by_name,
                            spool=spool, send=send, heartbeat=heartbeat, log=log)
        if collector.token is not None:
            agent.token = collector.token
        elif read_token and collector.token_file is not None:
            agent.token = read_token_file(collector.token_file)
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}.enabled: expected true or false")
        targets.append(TargetConfig(name=name, ssh=ssh, agent=agent, enabled=enabled))
    return PollerConfig(state_dir=Path(state_dir), parallel=parallel, targets=targets, log=log)


def merge_target(local: AgentConfig, doc: Any) -> AgentConfig:
    """A target's checks with the central version `doc` (agent.central.CentralConfig) merged in, fetched
    with the target's token: refused as on an agent (type outside central_allow, inline secret,
    invalid), and the central checks of a type that cannot run agentless (tcp, http...) left out."""
    from agent.central import admit, sources_of

    taken = admit(doc, local.collector.allowed_central_types, set(local.raw_checks),
                  lambda type_name: type_name in AGENTLESS_TYPES)
    specs, by_name = parse_checks(taken + list(local.raw_checks.values()), f"targets ({local.host}).checks",
                                  parse=_check_spec)
    return dataclasses.replace(local, checks=specs, raw_checks=by_name, sources=sources_of(doc, taken),
                               central_version=doc.version)
