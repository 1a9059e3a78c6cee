"""Time and contact boundaries: a pattern of overruns, off-hours messages, contact off the platform.

Wording matters here: these are prompts for reflection and supervision, never accusations.
"""

from __future__ import annotations

from datetime import timedelta

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.rules.kinds import Cleared, Finding, Verdict, condition, per_event
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.session import MessageSent, SessionEnded

FLAG_LABELS = {
    "off-platform-contact": "contact off the platform",
    "payment-request": "a payment request",
    "social-media": "social media",
}


def overrun_pattern(facts: Facts, event: SessionEnded, config: RulesConfig) -> list[AlertDecision]:
    """``pattern_count`` of the pair's last ``pattern_last`` ended sessions ran ``pattern_minutes`` over."""
    rules = config.overrun
    last = facts.pair.ended[-rules.pattern_last :]
    verdict: Verdict = None
    if any(e.event_id == event.id for e in last):
        over = [e for e in last if e.over_s >= rules.pattern_minutes * 60]
        if len(over) >= rules.pattern_count:
            verdict = Finding(
                f"{len(over)} of the last {len(last)} sessions ended {rules.pattern_minutes:g} or more minutes "
                "after their scheduled end. Worth reflecting on session endings in supervision?",
                tuple(e.event_id for e in over),
            )
        else:
            verdict = Cleared(
                f"Fewer than {rules.pattern_count} of the last {len(last)} sessions ran "
                f"{rules.pattern_minutes:g} or more minutes over."
            )
    return condition("overrun-pattern", facts.pair, event, config, verdict)


def off_hours_contact(facts: Facts, event: MessageSent, config: RulesConfig) -> list[AlertDecision]:
    """``messages`` off-hours clinician messages within one window ``[s, s + window_days)`` holding this one.

    The messages were classified against the clinician's working hours when recorded; this alert stays
    open until a person resolves it.
    """
    rules = config.off_hours
    window = timedelta(days=rules.window_days)
    stamps = facts.pair.off_hours_messages
    this = next((m for m in stamps if m.event_id == event.id), None)
    verdict: Verdict = None
    if this is not None:
        for first in stamps:
            if first.at <= this.at < first.at + window:
                cluster = [m for m in stamps if first.at <= m.at < first.at + window]
                if len(cluster) >= rules.messages:
                    verdict = Finding(
                        f"{len(cluster)} messages from the clinician to this client were sent outside their "
                        f"working hours within {rules.window_days:g} days. Worth reflecting on contact "
                        "boundaries in supervision?",
                        tuple(m.event_id for m in cluster),
                    )
                    break
    return condition("off-hours-contact", facts.pair, event, config, verdict)


def off_platform_contact(facts: Facts, event: MessageSent, config: RulesConfig) -> list[AlertDecision]:
    """A flagged message (flags are only seen under ``message-scanning`` consent)."""
    finding = None
    if event.data.flags:
        flagged = ", ".join(FLAG_LABELS[flag] for flag in event.data.flags)
        finding = Finding(
            f"A message from the {event.data.sender} was flagged by scanning ({flagged}). Worth reviewing "
            "it against the platform's boundaries policy, in supervision if helpful?",
            (event.id,),
        )
    return per_event("off-platform-contact", facts.pair, event, config, finding)
