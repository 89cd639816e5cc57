"""The templates API's typed bodies."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field


class AgentConfigOut(BaseModel):
    version: str = Field(description="opaque, at most 64 characters; also the ETag")
    checks: list[dict[str, Any]] = Field(description="check mappings in the agent YAML `checks:` shape")
    sources: dict[str, str] = Field(description="check name -> template@vN")


class ApplyIn(BaseModel):
    yaml: str = Field(max_length=300_000, description="the template file's text")
    percent: int = Field(100, ge=1, le=100, description="share of matching hosts that get this version")


class PercentIn(BaseModel):
    percent: int = Field(ge=1, le=100)


class ChangeOut(BaseModel):
    name: str
    action: str = Field(description="apply | percent | rollback | none (same text and share: nothing changed)")
    version: int
    previous_version: Optional[int]
    percent: int


class TemplateSummaryOut(BaseModel):
    name: str
    version: int
    previous_version: Optional[int]
    percent: int
    priority: int
    match: dict[str, str]
    checks: int
    updated_at: Optional[str]
    updated_by: str


class TemplateListOut(BaseModel):
    items: list[TemplateSummaryOut]


class VersionOut(BaseModel):
    version: int
    priority: int
    match: dict[str, str]
    checks: list[dict[str, Any]]
    yaml: str
    created_by: str
    created_at: Optional[str]


class AuditOut(BaseModel):
    action: str
    actor: str
    at: Optional[str]
    from_version: Optional[int]
    to_version: int
    percent: int
    diff: str


class HostRowOut(BaseModel):
    host: str
    unit: str
    online: bool
    target: Optional[int] = Field(description="version the rollout gives this host (null: not applied)")
    running: Optional[int] = Field(description="version the agent reports running")
    refused: Optional[int] = Field(description="version the agent reports refusing")
    refused_error: str
    unknown: list[str] = Field(description="its checks from this template whose latest status is UNKNOWN")


class TemplateDetailOut(TemplateSummaryOut):
    yaml: str
    versions: list[VersionOut]
    hosts: list[HostRowOut]
    hosts_by_target: dict[str, int] = Field(description="version -> hosts the rollout gives it")
    hosts_by_running: dict[str, int] = Field(description="version -> hosts reporting it")
    refused: list[HostRowOut]
    unknown_by_running: dict[str, int] = Field(description="version -> hosts running it with a check of it UNKNOWN")
    audit: list[AuditOut]


class EffectiveCheckOut(BaseModel):
    name: str
    type: str
    source: str


class EffectiveOut(BaseModel):
    host: str
    version: str
    reported_version: str
    refused_version: str
    refused_error: str
    checks: list[EffectiveCheckOut]
