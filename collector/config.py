"""Typed settings in one object: defaults, then an optional YAML file, then XUNJIAN_* environment."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, Field, field_validator

DEFAULT_DB_URL = "sqlite:///xunjian.db"


class IngestSettings(BaseModel):
    max_body_bytes: int = 4 * 1024 * 1024
    max_results_per_batch: int = 1000
    max_json_depth: int = 32
    concurrency: int = Field(16, ge=1, description="batches processed at once per collector process")
    queue_wait_ms: float = Field(2000, ge=0, description="longer wait for a slot: 503 with Retry-After")
    retry_after_seconds: int = Field(5, ge=1)
    group_max: int = Field(16, ge=1, description="batches written in one transaction at most (group commit; 1: "
                                                "every batch in its own transaction)")
    group_writers: int = Field(1, ge=1, description="writer threads (write transactions at once) per collector "
                               "process; more make groups smaller and add GIL contention while the event "
                               "loop validates (docs/ingest.md)")


class TicketSettings(BaseModel):
    number_prefix: str = "FW"
    consecutive_bad: int = Field(1, ge=1, description="bad results in a row before a ticket opens")
    recover_after: int = Field(3, ge=1, description="OK results in a row before a ticket recovers")
    auto_resolve: bool = True
    offline_missed_heartbeats: int = Field(3, ge=1)
    offline_min_seconds: float = 60.0


class ConsoleSettings(BaseModel):
    """The web console (collector/console): session lifetimes, cookie, login throttling."""

    idle_minutes: float = Field(30, gt=0)
    absolute_hours: float = Field(12, gt=0)
    secure_cookie: Optional[bool] = None  # None: Secure when the request or public_url is https
    login_max_failures: int = Field(5, ge=1)
    login_window_minutes: float = Field(5, gt=0)
    login_account_backoff_max_seconds: float = Field(60, ge=0, description="longest wait after a failure of an "
                                                     "account with many recent failures from any addresses")


class ApiSettings(BaseModel):
    public_docs: bool = Field(False, description="serve /openapi.json, /docs and /redoc without an operator key")


class ServerSettings(BaseModel):
    """Connection limits of `serve` (collector/serving.py); nginx in front repeats them (deploy/production)."""

    header_timeout: float = Field(10, gt=0, description="seconds from a connection's (or request's) first "
                                  "byte until its request head must be complete; then it is closed")
    body_timeout: float = Field(30, gt=0, description="seconds a request body may stall between two reads")
    max_connections_per_address: int = Field(64, ge=0, description="open connections per client address "
                                             "(0: no cap); past it the address's oldest idle one is closed")
    max_connections: int = Field(0, ge=0, description="open connections per process (0: the open-file limit "
                                 "less a reserve for the database, logs and reports)")
    trusted_proxies: list[str] = Field(["127.0.0.1", "::1"], description="addresses whose X-Forwarded-For is "
                                       "believed (nginx); exempt from the per-address cap")


class ReportSettings(BaseModel):
    """What the monthly report's cover and sign-off name besides the customer unit, and to whom the
    first-working-day job mails each unit's report and 系统服务单."""

    provider: str = Field("", description="服务单位: the company providing the service")
    contract_number: str = Field("", description="合同编号 of the service contract")
    contacts: dict[str, list[str]] = Field({}, description="客户单位 → contact e-mail addresses that receive "
                                           "the unit's report and 系统服务单 (PDF) on the first working day")
    mail_channel: str = Field("", description="the e-mail channel (notify.channels) that sends them; "
                              "blank: the first e-mail channel")

    @field_validator("contacts")
    @classmethod
    def _addresses(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for unit, addrs in v.items():
            for a in addrs:
                if not valid_address(a):
                    raise ValueError(f"report.contacts.{unit}: not a mail address: {a!r}")
        return {u: list(dict.fromkeys(a.strip() for a in addrs)) for u, addrs in v.items() if addrs}


def valid_address(value: str) -> bool:
    """'name@host' or '刘科长 <name@host>', one line, no control characters."""
    from email.utils import parseaddr

    if not isinstance(value, str) or any(ord(c) < 32 or c == "\x7f" for c in value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be sent
        return False
    addr = parseaddr(value)[1]
    local, at, domain = addr.rpartition("@")
    return bool(at and local and "." in domain and " " not in addr)


class Settings(BaseModel):
    db_url: str = DEFAULT_DB_URL
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: str = "Asia/Shanghai"
    public_url: Optional[str] = None
    ingest: IngestSettings = IngestSettings()
    tickets: TicketSettings = TicketSettings()
    console: ConsoleSettings = ConsoleSettings()
    api: ApiSettings = ApiSettings()
    server: ServerSettings = ServerSettings()
    report: ReportSettings = ReportSettings()
    sla: dict[str, Any] = {}
    calendar_files: list[str] = []
    notify: dict[str, Any] = {}
    jobs_enabled: bool = True
    job_interval_seconds: float = 10.0
    retention_days: int = Field(35, ge=1, description="days raw results are kept (rollups stay)")

    @field_validator("db_url")
    @classmethod
    def _known_db(cls, v: str) -> str:
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError("db_url must be a sqlite:/// or postgresql:// URL")
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v[len("postgresql://"):]
        return v


def load_settings(config_file: Optional[str] = None, **overrides: Any) -> Settings:
    data: dict[str, Any] = {}
    path = config_file or os.environ.get("XUNJIAN_CONFIG")
    if path:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        data.update(loaded)
    if os.environ.get("XUNJIAN_DB_URL"):
        data["db_url"] = os.environ["XUNJIAN_DB_URL"]
    data.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**data)
