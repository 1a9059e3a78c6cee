"""Time and contact boundaries: overruns (live and as a pattern), off-hours messages, contact off the platform.

Wording matters here: these are prompts for reflection and supervision, never accusations.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Self

from pydantic import Field, model_validator

from rapport_alliance_monitor.domain.records import ENDED_LIMIT
from rapport_alliance_monitor.domain.rules.declaration import Cleared, Finding, Rule, Verdict
from rapport_alliance_monitor.domain.rules.thresholds import Thresholds
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.session import MessageSent, SessionEnded, SessionOverrun

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig

FLAG_LABELS = {
    "off-platform-contact": "contact off the platform",
    "payment-request": "a payment request",
    "social-media": "social media",
}


class OverrunThresholds(Thresholds):
    live_minutes: int = Field(15, ge=0, description="session.overrun minutes_over at or above: live-overrun")
    pattern_minutes: float = Field(
        10.0, ge=0.0, description="an ended session this many minutes past scheduled_end counts as overrun"
    )
    pattern_count: int = Field(3, ge=1, description="... in this many of")
    pattern_last: int = Field(5, ge=1, le=ENDED_LIMIT, description="... the last ended sessions: overrun-pattern")

    @model_validator(mode="after")
    def _count_fits(self) -> Self:
        if self.pattern_count > self.pattern_last:
            raise ValueError("pattern_count cannot exceed pattern_last")
        return self


def live_overrun(facts: Facts, event: SessionOverrun, config: RulesConfig) -> Verdict:
    if event.data.minutes_over < config.overrun.live_minutes:
        return None
    return Finding(
        f"This session is {event.data.minutes_over} minutes past its scheduled end. Worth planning "
        "together how to close?",
        (event.id,),
        event.data.session_id,
    )


LIVE_OVERRUN = Rule(
    id="live-overrun",
    category="boundary",
    severity="info",
    audience="clinician",
    kind="per-session",
    live=True,
    on=(SessionOverrun,),
    thresholds=OverrunThresholds,
    check=live_overrun,
    explains="The session is running well past its scheduled end.",
)


def overrun_pattern(facts: Facts, event: SessionEnded, config: RulesConfig) -> Verdict:
    """``pattern_count`` of the pair's last ``pattern_last`` ended sessions ran ``pattern_minutes`` over."""
    rules = config.overrun
    last = facts.pair.ended[-rules.pattern_last :]
    if not any(e.event_id == event.id for e in last):
        return None
    over = [e for e in last if e.over_s >= rules.pattern_minutes * 60]
    if len(over) < rules.pattern_count:
        return Cleared(
            f"Fewer than {rules.pattern_count} of the last {len(last)} sessions ran "
            f"{rules.pattern_minutes:g} or more minutes over."
        )
    return Finding(
        f"{len(over)} of the last {len(last)} sessions ended {rules.pattern_minutes:g} or more minutes "
        "after their scheduled end. Worth reflecting on session endings in supervision?",
        tuple(e.event_id for e in over),
    )


OVERRUN_PATTERN = Rule(
    id="overrun-pattern",
    category="boundary",
    severity="low",
    audience="supervisor",
    kind="condition",
    on=(SessionEnded,),
    thresholds=OverrunThresholds,
    check=overrun_pattern,
    explains="Several recent sessions ended {overrun.pattern_minutes:g} minutes or more after their scheduled end.",
)


class OffHoursThresholds(Thresholds):
    messages: int = Field(
        3,
        ge=1,
        description="clinician messages outside working hours [start, end), clinician's timezone",
    )
    window_days: float = Field(7.0, gt=0.0, description="... within one window [s, s + window_days)")


def off_hours_contact(facts: Facts, event: MessageSent, config: RulesConfig) -> Verdict:
    """``messages`` off-hours clinician messages within one window ``[s, s + window_days)`` holding this one.

    The messages were classified against the clinician's working hours when recorded; this alert stays
    open until a person resolves it.
    """
    rules = config.off_hours
    window = timedelta(days=rules.window_days)
    stamps = facts.pair.off_hours_messages
    this = next((m for m in stamps if m.event_id == event.id), None)
    if this is None:
        return None
    for first in stamps:
        if first.at <= this.at < first.at + window:
            cluster = [m for m in stamps if first.at <= m.at < first.at + window]
            if len(cluster) >= rules.messages:
                return Finding(
                    f"{len(cluster)} messages from the clinician to this client were sent outside their "
                    f"working hours within {rules.window_days:g} days. Worth reflecting on contact "
                    "boundaries in supervision?",
                    tuple(m.event_id for m in cluster),
                )
    return None


OFF_HOURS_CONTACT = Rule(
    id="off-hours-contact",
    category="boundary",
    severity="low",
    audience="supervisor",
    kind="condition",
    resolves_itself=False,
    on=(MessageSent,),
    thresholds=OffHoursThresholds,
    check=off_hours_contact,
    explains="Several messages were sent outside working hours within {off_hours.window_days:days}.",
)


def off_platform_contact(facts: Facts, event: MessageSent, config: RulesConfig) -> Verdict:
    """A flagged message (flags are only seen under ``message-scanning`` consent)."""
    if not event.data.flags:
        return None
    flagged = ", ".join(FLAG_LABELS[flag] for flag in event.data.flags)
    return Finding(
        f"A message from the {event.data.sender} was flagged by scanning ({flagged}). Worth reviewing "
        "it against the platform's boundaries policy, in supervision if helpful?",
        (event.id,),
    )


OFF_PLATFORM_CONTACT = Rule(
    id="off-platform-contact",
    category="boundary",
    severity="medium",
    audience="compliance",
    kind="per-event",
    on=(MessageSent,),
    check=off_platform_contact,
    explains="A message may move contact or payment off the platform.",
)

RULES = (LIVE_OVERRUN, OVERRUN_PATTERN, OFF_HOURS_CONTACT, OFF_PLATFORM_CONTACT)
