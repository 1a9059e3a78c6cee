"""Session Rating Scale rules: low alliance early on, below the cutoff later, low items, drops, ceilings.

All comparisons are exact in tenths. Per-event rules judge the response itself; condition rules judge
the pair's latest response by event time, so a response that arrives late never flips a condition.
"""

from __future__ import annotations

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.rules.kinds import Cleared, Finding, Verdict, condition, per_event
from rapport_alliance_monitor.domain.rules.wording import points
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.feedback import SrsSubmitted
from rapport_common.events.fields import tenths

CEILING_TENTHS = 400

#: how summaries name the SRS items (the client's own words are never quoted)
ITEM_LABELS = {
    "relationship": "feeling heard, understood and respected",
    "goals_topics": "working on what they wanted to",
    "approach_method": "the approach fitting them",
    "overall": "the session overall",
}


def early_low_alliance(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> list[AlertDecision]:
    """SRS below the cutoff in the first sessions, where clients most often drop out."""
    total = tenths(event.data.total)
    number = facts.pair.session_number(event.data.session_id, event.time)
    finding = None
    if total < config.srs.cutoff_tenths and number <= config.srs.early_sessions:
        finding = Finding(
            f"The client rated session {number} at {points(total)}/40, below {config.srs.cutoff:g}. Early "
            "sessions are when clients most often drop out: worth inviting their feedback on how therapy "
            "is going for them?",
            (event.id,),
            event.data.session_id,
        )
    return per_event("early-low-alliance", facts.pair, event, config, finding)


def srs_below_cutoff(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> list[AlertDecision]:
    """Condition on the latest SRS; sessions 1..early_sessions belong to early-low-alliance instead."""
    pair = facts.pair
    latest = pair.srs[-1] if pair.srs else None
    verdict: Verdict = None
    if latest is not None and latest.event_id == event.id:
        number = pair.session_number(latest.session_id, latest.at)
        if latest.total_tenths >= config.srs.cutoff_tenths:
            verdict = Cleared(f"A later session rating was {points(latest.total_tenths)}/40.")
        elif number > config.srs.early_sessions:
            verdict = Finding(
                f"The client rated session {number} at {points(latest.total_tenths)}/40, below "
                f"{config.srs.cutoff:g}. Worth exploring with them what could work better?",
                (event.id,),
                event.data.session_id,
            )
    return condition("srs-below-cutoff", pair, event, config, verdict)


def srs_item_low(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> list[AlertDecision]:
    """A good total can hide one low item."""
    total = tenths(event.data.total)
    low = [
        (name, value)
        for name, value in event.data.items.model_dump().items()
        if tenths(value) < tenths(config.srs.item_low)
    ]
    finding = None
    if total >= config.srs.cutoff_tenths and low:
        rated = ", ".join(f"{ITEM_LABELS[name]} {value:.1f}/10" for name, value in low)
        finding = Finding(
            f"The session rating was {points(total)}/40, but the client rated {rated}. Worth asking what "
            "would make that part fit them better?",
            (event.id,),
            event.data.session_id,
        )
    return per_event("srs-item-low", facts.pair, event, config, finding)


def srs_drop(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> list[AlertDecision]:
    """A total still above the cutoff that fell by ``drop`` or more since the pair's previous SRS."""
    scores = facts.pair.srs
    index = next((i for i, s in enumerate(scores) if s.event_id == event.id), None)
    finding = None
    if index:  # None (not kept) or 0 (no previous response known)
        previous, current = scores[index - 1], scores[index]
        fall = previous.total_tenths - current.total_tenths
        if current.total_tenths >= config.srs.cutoff_tenths and fall >= tenths(config.srs.drop):
            finding = Finding(
                f"The session rating went from {points(previous.total_tenths)} to "
                f"{points(current.total_tenths)}/40 since the previous session. Worth checking in about "
                "what changed?",
                (previous.event_id, event.id),
                event.data.session_id,
            )
    return per_event("srs-drop", facts.pair, event, config, finding)


def srs_ceiling(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> list[AlertDecision]:
    """Repeated perfect scores: an invitation to ask for honest feedback."""
    pair = facts.pair
    run = pair.srs[-config.srs.ceiling_run :]
    verdict: Verdict = None
    if (
        len(run) == config.srs.ceiling_run
        and all(s.total_tenths == CEILING_TENTHS for s in run)
        and any(s.event_id == event.id for s in run)
    ):
        verdict = Finding(
            f"The last {len(run)} session ratings were all 40/40. Perfect scores can mean it is hard to say "
            "what is not working: worth inviting honest feedback?",
            tuple(s.event_id for s in run),
            event.data.session_id,
        )
    elif pair.srs and pair.srs[-1].event_id == event.id and pair.srs[-1].total_tenths < CEILING_TENTHS:
        verdict = Cleared(f"A later session rating was {points(pair.srs[-1].total_tenths)}/40.")
    return condition("srs-ceiling", pair, event, config, verdict)
