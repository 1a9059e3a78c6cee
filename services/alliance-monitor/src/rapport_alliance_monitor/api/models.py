"""Request and response bodies of the alliance-monitor API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rapport_common.events.alerts import Audience, Category, RuleId, Severity


class AlertView(BaseModel):
    alert_id: str
    rule: RuleId
    category: Category
    severity: Severity
    audience: Audience
    live: bool
    client_id: str
    clinician_id: str
    session_id: str | None
    summary: str
    #: ids of the events behind the alert
    evidence: list[str]
    status: str
    raised_at: datetime
    stored_at: datetime
    updated_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None

    @classmethod
    def of(cls, row: Any) -> AlertView:
        return cls.model_validate({name: row[name] for name in cls.model_fields})


class HistoryEntry(BaseModel):
    id: int
    action: str
    by: str
    at: datetime
    note: str | None
    summary: str | None
    evidence: list[str]
    recorded_at: datetime


class AlertDetail(AlertView):
    history: list[HistoryEntry]


class AlertList(BaseModel):
    alerts: list[AlertView]


class AlertCount(BaseModel):
    rule: str
    severity: str
    status: str
    count: int


class AlertCounts(BaseModel):
    counts: list[AlertCount]


class AcknowledgeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, min_length=1, max_length=2000)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000, description="why the alert is resolved")


class TrendPoint(BaseModel):
    event_id: str
    session_id: str | None
    #: rank of the session's start among the pair's starts (None when its start was not seen)
    session_number: int | None
    at: datetime
    total: float


class Band(BaseModel):
    low: float
    high: float


class SrsSeries(BaseModel):
    cutoff: float
    points: list[TrendPoint]


class OrsSeries(BaseModel):
    #: the clinical cutoff of the client's age band (None while the age band is unknown)
    cutoff: float | None
    age_band: str | None
    baseline: float | None
    reliable_change: float
    #: baseline +/- reliable change: movement inside it is not reliable change
    reliable_change_band: Band | None
    points: list[TrendPoint]


class TrendView(BaseModel):
    client_id: str
    clinician_id: str
    srs: SrsSeries
    ors: OrsSeries
