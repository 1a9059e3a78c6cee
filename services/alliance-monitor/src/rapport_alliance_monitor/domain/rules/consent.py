"""consent-violation: an event that needed a consent which was not active at its time.

One open alert per pair and scope; it records past facts, so only a person resolves it. It judges the
consent decision rather than the pair's facts, so the engine calls :func:`consent_violation` itself, for
every pair event, before anything else is analysed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.consent_gate import ConsentDecision, violation_scopes
from rapport_alliance_monitor.domain.rules.declaration import Finding, Rule
from rapport_alliance_monitor.domain.rules.kinds import condition
from rapport_alliance_monitor.domain.rules.thresholds import Thresholds
from rapport_alliance_monitor.domain.state import PairState
from rapport_common.events.consent import ConsentScope
from rapport_common.events.envelope import CloudEvent

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig

WHAT_HAPPENED: dict[ConsentScope, str] = {
    "telehealth-treatment": "A session started",
    "session-recording": "A session recording started",
    "measurement-feedback": "Feedback was collected",
    "alliance-analytics": "Session telemetry was collected",
    "message-scanning": "A message was flagged by scanning",
}


class ConsentThresholds(Thresholds):
    """How long a missing consent may still arrive before the event counts as not covered."""

    hold_seconds: float = Field(10.0, ge=0.0, description="processing time to wait for a consent that may still arrive")


CONSENT_VIOLATION = Rule(
    id="consent-violation",
    category="consent",
    severity="high",
    audience="compliance",
    kind="condition",
    resolves_itself=False,
    thresholds=ConsentThresholds,
    explains="Something happened without the consent it needs.",
)


def consent_violation(
    pair: PairState, event: CloudEvent[Any], config: RulesConfig, decision: ConsentDecision
) -> list[AlertDecision]:
    decisions: list[AlertDecision] = []
    if decision.status != "not-covered":
        return decisions
    session_id = getattr(event.data, "session_id", None)
    for scope in violation_scopes(event):
        if scope in decision.missing:
            finding = Finding(
                f"{WHAT_HAPPENED[scope]} while no active {scope} consent was on record. Worth checking the "
                "consent record with the client and the team?",
                (event.id,),
                session_id,
            )
            decisions += condition(
                CONSENT_VIOLATION, pair=pair, event=event, config=config, verdict=finding, scope=scope
            )
    return decisions


RULES = (CONSENT_VIOLATION,)
