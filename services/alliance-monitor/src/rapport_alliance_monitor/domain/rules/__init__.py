"""The fifteen rules of DOMAIN.md, and which of them look at which event type.

Every rule is a pure function ``(facts, event, config) -> list[AlertDecision]``; ``consent-violation`` also
needs the consent decision and is called by the engine directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.rules import attendance, boundary, live, ors, srs
from rapport_alliance_monitor.domain.rules.consent import consent_violation
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.alerts import RuleId
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import OrsSubmitted, PulseSubmitted, SrsSubmitted
from rapport_common.events.session import (
    MessageSent,
    SessionCancelled,
    SessionEnded,
    SessionNoShow,
    SessionOverrun,
    SessionStarted,
    SessionTelemetry,
)

Rule = Callable[[Facts, Any, RulesConfig], list[AlertDecision]]

#: rule ids in evaluation order per event type (early-low-alliance before srs-below-cutoff, as in DOMAIN.md)
RULES_BY_EVENT: dict[type[CloudEvent[Any]], tuple[tuple[RuleId, Rule], ...]] = {
    SrsSubmitted: (
        ("early-low-alliance", srs.early_low_alliance),
        ("srs-below-cutoff", srs.srs_below_cutoff),
        ("srs-item-low", srs.srs_item_low),
        ("srs-drop", srs.srs_drop),
        ("srs-ceiling", srs.srs_ceiling),
    ),
    OrsSubmitted: (
        ("ors-deterioration", ors.ors_deterioration),
        ("ors-not-improving", ors.ors_not_improving),
    ),
    SessionStarted: (("attendance-withdrawal", attendance.attendance_withdrawal),),
    SessionNoShow: (("attendance-withdrawal", attendance.attendance_withdrawal),),
    SessionCancelled: (("attendance-withdrawal", attendance.attendance_withdrawal),),
    PulseSubmitted: (("pulse-low", live.pulse_low),),
    SessionTelemetry: (("withdrawal-telemetry", live.withdrawal_telemetry),),
    SessionOverrun: (("live-overrun", live.live_overrun),),
    SessionEnded: (("overrun-pattern", boundary.overrun_pattern),),
    MessageSent: (
        ("off-hours-contact", boundary.off_hours_contact),
        ("off-platform-contact", boundary.off_platform_contact),
    ),
}


def rules_for(event: CloudEvent[Any]) -> tuple[tuple[RuleId, Rule], ...]:
    return RULES_BY_EVENT.get(type(event), ())


__all__ = ["RULES_BY_EVENT", "Rule", "consent_violation", "rules_for"]
