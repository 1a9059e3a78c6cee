"""Session Rating Scale rules: low alliance early on, below the cutoff later, low items, drops, ceilings.

All comparisons are exact in tenths. Per-event rules judge the response itself; condition rules judge
the pair's latest response by event time, so a response that arrives late never flips a condition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from rapport_alliance_monitor.domain.records import SESSION_START_LIMIT, SRS_LIMIT
from rapport_alliance_monitor.domain.rules.declaration import Cleared, Finding, Rule, Verdict
from rapport_alliance_monitor.domain.rules.thresholds import ItemPoints, ScalePoints, Thresholds
from rapport_alliance_monitor.domain.rules.wording import points
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.feedback import SRS_CUTOFF, SrsSubmitted
from rapport_common.events.fields import tenths

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig

CEILING_TENTHS = 400

#: how summaries name the SRS items (the client's own words are never quoted)
ITEM_LABELS = {
    "relationship": "feeling heard, understood and respected",
    "goals_topics": "working on what they wanted to",
    "approach_method": "the approach fitting them",
    "overall": "the session overall",
}


class SrsThresholds(Thresholds):
    cutoff: ScalePoints = Field(SRS_CUTOFF, description="an SRS total below this is an alliance concern")
    item_low: ItemPoints = Field(8.0, description="total >= cutoff but one item below this: srs-item-low")
    drop: ScalePoints = Field(3.0, description="total >= cutoff and this far below the previous total: srs-drop")
    early_sessions: int = Field(
        3,
        ge=0,
        le=SESSION_START_LIMIT,
        description="sessions 1..early_sessions: early-low-alliance replaces srs-below-cutoff",
    )
    ceiling_run: int = Field(3, ge=1, le=SRS_LIMIT, description="this many consecutive 40.0 totals: srs-ceiling")

    @property
    def cutoff_tenths(self) -> int:
        return tenths(self.cutoff)


def early_low_alliance(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> Verdict:
    """SRS below the cutoff in the first sessions, where clients most often drop out."""
    total = tenths(event.data.total)
    number = facts.pair.session_number(event.data.session_id, event.time)
    if total >= config.srs.cutoff_tenths or number > config.srs.early_sessions:
        return None
    return Finding(
        f"The client rated session {number} at {points(total)}/40, below {config.srs.cutoff:g}. Early "
        "sessions are when clients most often drop out: worth inviting their feedback on how therapy "
        "is going for them?",
        (event.id,),
        event.data.session_id,
    )


EARLY_LOW_ALLIANCE = Rule(
    id="early-low-alliance",
    category="alliance",
    severity="high",
    audience="clinician",
    kind="per-event",
    on=(SrsSubmitted,),
    thresholds=SrsThresholds,
    check=early_low_alliance,
    explains="A session rating below {srs.cutoff:g} in one of the first {srs.early_sessions:words} sessions, when "
    "clients most often stop coming.",
)


def srs_below_cutoff(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> Verdict:
    """Condition on the latest SRS; sessions 1..early_sessions belong to early-low-alliance instead."""
    pair = facts.pair
    latest = pair.srs[-1] if pair.srs else None
    if latest is None or latest.event_id != event.id:
        return None
    number = pair.session_number(latest.session_id, latest.at)
    if latest.total_tenths >= config.srs.cutoff_tenths:
        return Cleared(f"A later session rating was {points(latest.total_tenths)}/40.")
    if number <= config.srs.early_sessions:
        return None
    return Finding(
        f"The client rated session {number} at {points(latest.total_tenths)}/40, below "
        f"{config.srs.cutoff:g}. Worth exploring with them what could work better?",
        (event.id,),
        event.data.session_id,
    )


SRS_BELOW_CUTOFF = Rule(
    id="srs-below-cutoff",
    category="alliance",
    severity="medium",
    audience="clinician",
    kind="condition",
    on=(SrsSubmitted,),
    thresholds=SrsThresholds,
    check=srs_below_cutoff,
    explains="The session rating was below {srs.cutoff:g} of 40, where the alliance may need attention.",
)


def srs_item_low(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> Verdict:
    """A good total can hide one low item."""
    total = tenths(event.data.total)
    low = [
        (name, value)
        for name, value in event.data.items.model_dump().items()
        if tenths(value) < tenths(config.srs.item_low)
    ]
    if total < config.srs.cutoff_tenths or not low:
        return None
    rated = ", ".join(f"{ITEM_LABELS[name]} {value:.1f}/10" for name, value in low)
    return Finding(
        f"The session rating was {points(total)}/40, but the client rated {rated}. Worth asking what "
        "would make that part fit them better?",
        (event.id,),
        event.data.session_id,
    )


SRS_ITEM_LOW = Rule(
    id="srs-item-low",
    category="alliance",
    severity="low",
    audience="clinician",
    kind="per-event",
    on=(SrsSubmitted,),
    thresholds=SrsThresholds,
    check=srs_item_low,
    explains="The total was fine, but one session-rating item was below {srs.item_low:g} of 10.",
)


def srs_drop(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> Verdict:
    """A total still above the cutoff that fell by ``drop`` or more since the pair's previous SRS."""
    scores = facts.pair.srs
    index = next((i for i, s in enumerate(scores) if s.event_id == event.id), None)
    if not index:  # None (not kept) or 0 (no previous response known)
        return None
    previous, current = scores[index - 1], scores[index]
    fall = previous.total_tenths - current.total_tenths
    if current.total_tenths < config.srs.cutoff_tenths or fall < tenths(config.srs.drop):
        return None
    return Finding(
        f"The session rating went from {points(previous.total_tenths)} to "
        f"{points(current.total_tenths)}/40 since the previous session. Worth checking in about "
        "what changed?",
        (previous.event_id, event.id),
        event.data.session_id,
    )


SRS_DROP = Rule(
    id="srs-drop",
    category="alliance",
    severity="low",
    audience="clinician",
    kind="per-event",
    on=(SrsSubmitted,),
    thresholds=SrsThresholds,
    check=srs_drop,
    explains="The session rating fell {srs.drop:g} or more points from the previous one.",
)


def srs_ceiling(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> Verdict:
    """Repeated perfect scores: an invitation to ask for honest feedback."""
    pair = facts.pair
    run = pair.srs[-config.srs.ceiling_run :]
    if (
        len(run) == config.srs.ceiling_run
        and all(s.total_tenths == CEILING_TENTHS for s in run)
        and any(s.event_id == event.id for s in run)
    ):
        return Finding(
            f"The last {len(run)} session ratings were all 40/40. Perfect scores can mean it is hard to say "
            "what is not working: worth inviting honest feedback?",
            tuple(s.event_id for s in run),
            event.data.session_id,
        )
    if pair.srs and pair.srs[-1].event_id == event.id and pair.srs[-1].total_tenths < CEILING_TENTHS:
        return Cleared(f"A later session rating was {points(pair.srs[-1].total_tenths)}/40.")
    return None


SRS_CEILING = Rule(
    id="srs-ceiling",
    category="alliance",
    severity="info",
    audience="clinician",
    kind="condition",
    on=(SrsSubmitted,),
    thresholds=SrsThresholds,
    check=srs_ceiling,
    explains="The last {srs.ceiling_run:words} session ratings were all 40 of 40; it may help to invite more "
    "candid feedback.",
)


#: evaluation order: early-low-alliance before srs-below-cutoff, as DOMAIN.md reads
RULES = (EARLY_LOW_ALLIANCE, SRS_BELOW_CUTOFF, SRS_ITEM_LOW, SRS_DROP, SRS_CEILING)
