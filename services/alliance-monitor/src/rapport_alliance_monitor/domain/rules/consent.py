"""consent-violation: an event that needed a consent which was not active at its time.

One open alert per pair and scope; it records past facts, so only a person resolves it.
"""

from __future__ import annotations

from typing import Any

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.consent_gate import ConsentDecision, violation_scopes
from rapport_alliance_monitor.domain.rules.kinds import Finding, condition
from rapport_alliance_monitor.domain.state import PairState
from rapport_common.events.consent import ConsentScope
from rapport_common.events.envelope import CloudEvent

WHAT_HAPPENED: dict[ConsentScope, str] = {
    "telehealth-treatment": "A session started",
    "session-recording": "A session recording started",
    "measurement-feedback": "Feedback was collected",
    "alliance-analytics": "Session telemetry was collected",
    "message-scanning": "A message was flagged by scanning",
}


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
            decisions += condition("consent-violation", pair, event, config, finding, scope=scope)
    return decisions
