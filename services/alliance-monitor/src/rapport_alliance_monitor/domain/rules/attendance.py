"""Withdrawal through attendance: no-shows and late client cancellations, two in a row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rapport_alliance_monitor.domain.rules.declaration import Cleared, Finding, Rule, Verdict
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.session import SessionCancelled, SessionNoShow, SessionStarted

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig


def attendance_withdrawal(
    facts: Facts, event: SessionStarted | SessionNoShow | SessionCancelled, config: RulesConfig
) -> Verdict:
    """The two latest outcomes by scheduled start, skipping neutral ones, are both client withdrawals."""
    relevant = [o for o in facts.pair.attendance if o.kind != "neutral"]
    last_two = relevant[-2:]
    if (
        len(last_two) == 2
        and all(o.kind == "withdrawal" for o in last_two)
        and any(o.event_id == event.id for o in last_two)
    ):
        return Finding(
            "The client's last two scheduled sessions were missed or cancelled late. Worth reaching out to "
            "see how they are, and whether the work still fits them?",
            tuple(o.event_id for o in last_two),
        )
    if relevant and relevant[-1].kind == "attended" and relevant[-1].event_id == event.id:
        return Cleared("The client attended a session.")
    return None


#: no thresholds: "two in a row" is the rule itself (DOMAIN.md)
ATTENDANCE_WITHDRAWAL = Rule(
    id="attendance-withdrawal",
    category="alliance",
    severity="medium",
    audience="clinician",
    kind="condition",
    on=(SessionStarted, SessionNoShow, SessionCancelled),
    check=attendance_withdrawal,
    explains="The last two sessions were missed or cancelled late by the client.",
)

RULES = (ATTENDANCE_WITHDRAWAL,)
