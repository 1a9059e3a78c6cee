"""What the rules decide about alerts: raise a new one, attach evidence to an open one, or resolve it.

Decisions are plain values; the wiring turns them into ``alliance.alerts`` events with :meth:`to_payload`.
Alert ids are deterministic (uuid5 over the rule and its anchor), so a replayed input can only ever name an
alert that already exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rapport_common.events.alerts import (
    AlertRaisedData,
    AlertResolvedData,
    AlertUpdatedData,
    Audience,
    Category,
    RuleId,
    Severity,
)

#: how a rule's alerts are anchored and closed (``rules/kinds.py``)
RuleKind = Literal["per-event", "per-session", "condition"]

#: namespace of every alert id the monitor derives
ALERT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:rapport:alliance-monitor:alert")


def alert_id(rule: RuleId, *anchor: str) -> str:
    """The deterministic id of ``rule``'s alert for ``anchor`` (event id, session id, or pair + episode)."""
    return str(uuid.uuid5(ALERT_NAMESPACE, "|".join((rule, *anchor))))


@dataclass(frozen=True, slots=True)
class Raise:
    """A new alert. ``kind`` tells the pair state what to book; ``scope`` is set only for consent-violation
    (one open alert per pair and scope)."""

    alert_id: str
    rule: RuleId
    kind: RuleKind
    category: Category
    severity: Severity
    audience: Audience
    live: bool
    client_id: str
    clinician_id: str
    session_id: str | None
    summary: str
    evidence: tuple[str, ...]
    at: datetime
    scope: str | None = None

    def to_payload(self) -> AlertRaisedData:
        return AlertRaisedData(
            alert_id=self.alert_id,
            client_id=self.client_id,
            clinician_id=self.clinician_id,
            session_id=self.session_id,
            rule=self.rule,
            category=self.category,
            severity=self.severity,
            audience=self.audience,
            summary=self.summary,
            evidence=list(self.evidence),
            raised_at=self.at,
        )


@dataclass(frozen=True, slots=True)
class Update:
    """New evidence for an open condition alert."""

    alert_id: str
    rule: RuleId
    client_id: str
    clinician_id: str
    summary: str
    added_evidence: tuple[str, ...]
    at: datetime

    def to_payload(self) -> AlertUpdatedData:
        return AlertUpdatedData(
            alert_id=self.alert_id, added_evidence=list(self.added_evidence), at=self.at, summary=self.summary
        )


@dataclass(frozen=True, slots=True)
class Resolve:
    """A condition alert whose condition cleared (``by`` is ``rule``)."""

    alert_id: str
    rule: RuleId
    client_id: str
    clinician_id: str
    reason: str
    at: datetime
    by: str = "rule"

    def to_payload(self) -> AlertResolvedData:
        return AlertResolvedData(alert_id=self.alert_id, by=self.by, at=self.at, reason=self.reason)


AlertDecision = Raise | Update | Resolve
