"""The inventory file: which hosts, how to reach them, where to install, what each agent checks.

```yaml
defaults: {user: root, port: 22, key: ~/.ssh/id_ed25519, sudo: false, known_hosts: ~/.ssh/known_hosts}
collector: {url: http://10.1.2.3:8000, api_key_env: XUNJIAN_API_KEY}
prefix: ""            # optional: prepended to the three install paths below (tests)
paths: {install: /opt/xunjian-agent, config: /etc/xunjian, state: /var/lib/xunjian-agent}
hosts:
  - {name: web01, address: 10.1.2.10, labels: {unit: 某市财政局, room: "301"}, jump: bastion, checks: [...]}
jump_hosts: {bastion: {address: 10.1.2.1, user: ops, key: ~/.ssh/ops}}
```

Secrets never live in the file: the admin API key and SSH passwords are read from the environment
variables the file names (`api_key_env`, `password_env`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deploy.errors import DeployError

DEFAULT_PATHS = {"install": "/opt/xunjian-agent", "config": "/etc/xunjian", "state": "/var/lib/xunjian-agent"}
_CONN_KEYS = {"address", "user", "port", "key", "password_env", "sudo", "known_hosts", "python"}
_HOST_KEYS = _CONN_KEYS | {"name", "labels", "jump", "checks", "enabled", "agent"}
# Agent settings the inventory may pass through (the rest of the agent config is written by deploy).
AGENT_EXTRA_KEYS = {"spool", "send", "heartbeat", "metrics", "log"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


@dataclass(frozen=True)
class Paths:
    install: str
    config: str
    state: str

    @property
    def releases(self) -> str:
        return f"{self.install}/releases"

    @property
    def current(self) -> str:
        return f"{self.install}/current"

    @property
    def previous(self) -> str:
        return f"{self.install}/previous"

    @property
    def config_file(self) -> str:
        return f"{self.config}/agent.yaml"

    @property
    def token_file(self) -> str:
        return f"{self.config}/agent.token"

    @property
    def pidfile(self) -> str:
        return f"{self.state}/agent.pid"

    @property
    def logfile(self) -> str:
        return f"{self.state}/agent.log"


@dataclass(frozen=True)
class Endpoint:
    """How to open an SSH session to one machine (a host or a jump host)."""

    name: str
    address: str
    port: int
    user: str
    key: str | None
    password_env: str | None
    known_hosts: str
    jump: Endpoint | None = None


@dataclass
class Host:
    name: str
    endpoint: Endpoint
    labels: dict[str, str]
    checks: list[dict[str, Any]]
    sudo: bool
    python: str
    agent: dict[str, Any] = field(default_factory=dict)


@dataclass
class Collector:
    url: str                 # how this machine (the operator's) reaches the collector
    agent_url: str           # how the agents reach it (often the same)
    api_key_env: str

    def api_key(self) -> str:
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise DeployError(f"环境变量 {self.api_key_env} 未设置：需要采集端管理 API 密钥")
        return key


@dataclass
class Inventory:
    hosts: list[Host]
    collector: Collector
    paths: Paths
    prefix: str
    source: str = ""
    jump_hosts: dict[str, Endpoint] = field(default_factory=dict)

    def select(self, names: list[str] | None) -> list[Host]:
        if not names:
            return list(self.hosts)
        known = {h.name: h for h in self.hosts}
        missing = [n for n in names if n not in known]
        if missing:
            raise DeployError(f"清单中没有这些主机: {', '.join(missing)}")
        return [known[n] for n in names]


def _expand(path: str | None) -> str | None:
    return os.path.expanduser(str(path)) if path else None


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DeployError(f"{where}: 应为映射 (mapping)")
    return raw


def _agent_extra(raw: Any, where: str) -> dict[str, Any]:
    extra = _mapping(raw, where)
    bad = set(extra) - AGENT_EXTRA_KEYS
    if bad:
        allowed = ", ".join(sorted(AGENT_EXTRA_KEYS))
        raise DeployError(f"{where}: 不支持的键 {', '.join(sorted(bad))}（可用: {allowed}）")
    return extra


def _endpoint(name: str, raw: dict[str, Any], defaults: dict[str, Any], where: str,
              jump: Endpoint | None = None) -> Endpoint:
    merged = {**defaults, **raw}
    address = merged.get("address")
    if not address or not isinstance(address, str):
        raise DeployError(f"{where}.address: 必填")
    try:
        port = int(merged.get("port", 22))
    except (TypeError, ValueError):
        raise DeployError(f"{where}.port: 应为整数") from None
    return Endpoint(
        name=name, address=address, port=port, user=str(merged.get("user", "root")),
        key=_expand(merged.get("key")), password_env=merged.get("password_env"),
        known_hosts=_expand(merged.get("known_hosts", "~/.ssh/known_hosts")) or "", jump=jump,
    )


def load_inventory(path: str | os.PathLike[str], prefix: str | None = None) -> Inventory:
    """Read and validate an inventory; `prefix` (CLI --prefix) overrides the file's `prefix:`."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise DeployError(f"无法读取清单 {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise DeployError(f"清单 {path} 不是有效的 YAML: {e}") from None
    raw = _mapping(raw, "inventory")
    unknown = set(raw) - {"defaults", "collector", "hosts", "jump_hosts", "prefix", "paths"}
    if unknown:
        raise DeployError(f"清单中有未知键: {', '.join(sorted(unknown))}")
    defaults = _mapping(raw.get("defaults"), "defaults")
    default_checks = defaults.get("checks", [])
    default_agent = _agent_extra(defaults.get("agent"), "defaults.agent")
    conn_defaults = {k: v for k, v in defaults.items() if k in _CONN_KEYS}

    coll = _mapping(raw.get("collector"), "collector")
    if not coll.get("url"):
        raise DeployError("collector.url: 必填")
    if "api_key" in coll:
        raise DeployError("collector.api_key: 密钥不得写在清单中，请用 api_key_env 指定环境变量")
    url = str(coll["url"]).rstrip("/")
    collector = Collector(url=url, agent_url=str(coll.get("agent_url", url)).rstrip("/"),
                          api_key_env=str(coll.get("api_key_env", "XUNJIAN_API_KEY")))

    pfx = str(raw.get("prefix") or "") if prefix is None else prefix
    pfx = pfx.rstrip("/")
    paths_raw = {**DEFAULT_PATHS, **_mapping(raw.get("paths"), "paths")}
    paths = Paths(**{k: pfx + str(paths_raw[k]) for k in DEFAULT_PATHS})

    jumps: dict[str, Endpoint] = {}
    for jname, jraw in _mapping(raw.get("jump_hosts"), "jump_hosts").items():
        jumps[jname] = _endpoint(jname, _mapping(jraw, f"jump_hosts.{jname}"), conn_defaults,
                                 f"jump_hosts.{jname}")

    hosts: list[Host] = []
    seen: set[str] = set()
    host_list = raw.get("hosts") or []
    if not isinstance(host_list, list):
        raise DeployError("hosts: 应为列表")
    for i, hraw in enumerate(host_list):
        where = f"hosts[{i}]"
        hraw = _mapping(hraw, where)
        name = hraw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise DeployError(f"{where}.name: {name!r} 只能包含字母、数字、'-'、'_'、'.'")
        if name in seen:
            raise DeployError(f"{where}.name: 主机 {name} 重复")
        seen.add(name)
        bad = set(hraw) - _HOST_KEYS
        if bad:
            raise DeployError(f"{where} ({name}): 未知键 {', '.join(sorted(bad))}")
        if hraw.get("enabled", True) is False:
            continue
        jump = None
        if hraw.get("jump"):
            jump = jumps.get(hraw["jump"])
            if jump is None:
                raise DeployError(f"{where} ({name}).jump: 未定义的跳板机 {hraw['jump']!r}")
        checks = hraw.get("checks", default_checks)
        if not isinstance(checks, list) or not checks:
            raise DeployError(f"{where} ({name}).checks: 至少需要一个检查项")
        labels = {str(k): str(v) for k, v in _mapping(hraw.get("labels"), f"{where}.labels").items()}
        merged = {**conn_defaults, **hraw}
        hosts.append(Host(
            name=name,
            endpoint=_endpoint(name, hraw, conn_defaults, f"{where} ({name})", jump),
            labels=labels, checks=checks, sudo=bool(merged.get("sudo", False)),
            python=str(merged.get("python", "python3")),
            agent={**default_agent, **_agent_extra(hraw.get("agent"), f"{where} ({name}).agent")},
        ))
    return Inventory(hosts=hosts, collector=collector, paths=paths, prefix=pfx, source=str(path),
                     jump_hosts=jumps)
