"""Check types by name, imported lazily so the agent loads only the checks it runs."""
from __future__ import annotations

import importlib

from checks.base import Check

_TYPES = {
    "disk": "checks.disk:DiskCheck",
    "dirsize": "checks.dirsize:DirSizeCheck",
    "log": "checks.log:LogCheck",
    "process": "checks.process:ProcessCheck",
    "system": "checks.system:SystemCheck",
    "command": "checks.command:CommandCheck",
    "tcp": "checks.tcp:TcpCheck",
    "http": "checks.http:HttpCheck",
    "cert": "checks.cert:CertCheck",
    "sql": "checks.sql:SqlCheck",
    "mq": "checks.mq:MqCheck",
}


def register(type_name: str, target: str) -> None:
    _TYPES[type_name] = target


def known_types() -> list[str]:
    return sorted(_TYPES)


def check_class(type_name: str) -> type[Check]:
    try:
        target = _TYPES[type_name]
    except KeyError:
        raise KeyError(f"unknown check type {type_name!r} (known: {', '.join(known_types())})") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
