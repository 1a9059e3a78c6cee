"""`alliance.alerts`: the alliance-monitor's alert lifecycle."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from rapport_common.events.envelope import CloudEvent
from rapport_common.events.fields import NonEmptyStr
from rapport_common.events.payload import Payload

TOPIC = "alliance.alerts"

RuleId = Literal[
    "srs-below-cutoff",
    "srs-item-low",
    "srs-drop",
    "srs-ceiling",
    "early-low-alliance",
    "ors-deterioration",
    "ors-not-improving",
    "attendance-withdrawal",
    "pulse-low",
    "withdrawal-telemetry",
    "live-overrun",
    "overrun-pattern",
    "off-hours-contact",
    "off-platform-contact",
    "consent-violation",
]
RULE_IDS: tuple[str, ...] = RuleId.__args__  # type: ignore[attr-defined]
Category = Literal["alliance", "outcome", "boundary", "consent"]
Severity = Literal["info", "low", "medium", "high"]
Audience = Literal["clinician", "supervisor", "compliance"]


class AlertRaisedData(Payload):
    alert_id: NonEmptyStr
    client_id: NonEmptyStr
    clinician_id: NonEmptyStr
    session_id: NonEmptyStr | None = None
    rule: RuleId
    category: Category
    severity: Severity
    audience: Audience
    summary: str = Field(min_length=1, max_length=500)
    evidence: list[NonEmptyStr] = Field(min_length=1)
    raised_at: AwareDatetime


class AlertUpdatedData(Payload):
    alert_id: NonEmptyStr
    added_evidence: list[NonEmptyStr] = Field(min_length=1)
    at: AwareDatetime
    summary: str = Field(min_length=1, max_length=500)


class AlertAcknowledgedData(Payload):
    alert_id: NonEmptyStr
    by: NonEmptyStr
    at: AwareDatetime
    note: str | None = Field(default=None, max_length=2000)


class AlertResolvedData(Payload):
    alert_id: NonEmptyStr
    by: NonEmptyStr
    at: AwareDatetime
    reason: str = Field(min_length=1, max_length=2000)


class AlertRaised(CloudEvent[AlertRaisedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.alliance.alert-raised"] = "rapport.alliance.alert-raised"


class AlertUpdated(CloudEvent[AlertUpdatedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.alliance.alert-updated"] = "rapport.alliance.alert-updated"


class AlertAcknowledged(CloudEvent[AlertAcknowledgedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.alliance.alert-acknowledged"] = "rapport.alliance.alert-acknowledged"


class AlertResolved(CloudEvent[AlertResolvedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.alliance.alert-resolved"] = "rapport.alliance.alert-resolved"


EVENTS = (AlertRaised, AlertUpdated, AlertAcknowledged, AlertResolved)
