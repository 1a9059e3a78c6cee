"""Withdrawal through attendance: no-shows and late client cancellations, two in a row."""

from __future__ import annotations

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.rules.kinds import Cleared, Finding, Verdict, condition
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.session import SessionCancelled, SessionNoShow, SessionStarted


def attendance_withdrawal(
    facts: Facts, event: SessionStarted | SessionNoShow | SessionCancelled, config: RulesConfig
) -> list[AlertDecision]:
    """The two latest outcomes by scheduled start, skipping neutral ones, are both client withdrawals."""
    relevant = [o for o in facts.pair.attendance if o.kind != "neutral"]
    last_two = relevant[-2:]
    verdict: Verdict = None
    if (
        len(last_two) == 2
        and all(o.kind == "withdrawal" for o in last_two)
        and any(o.event_id == event.id for o in last_two)
    ):
        verdict = Finding(
            "The client's last two scheduled sessions were missed or cancelled late. Worth reaching out to "
            "see how they are, and whether the work still fits them?",
            tuple(o.event_id for o in last_two),
        )
    elif relevant and relevant[-1].kind == "attended" and relevant[-1].event_id == event.id:
        verdict = Cleared("The client attended a session.")
    return condition("attendance-withdrawal", facts.pair, event, config, verdict)
