"""Outcome Rating Scale rules, against the client's intake baseline (reliable change = 5.0 points).

Both are condition rules judged on the pair's latest ORS by event time; the intake baseline itself (an ORS
without a session) is recorded on the client and never judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from rapport_alliance_monitor.domain.records import SESSION_START_LIMIT, ScaleScore
from rapport_alliance_monitor.domain.rules.declaration import Cleared, Finding, Rule, Verdict
from rapport_alliance_monitor.domain.rules.thresholds import ScalePoints, Thresholds
from rapport_alliance_monitor.domain.rules.wording import points
from rapport_alliance_monitor.domain.state import BaselineScore, Facts
from rapport_common.events.feedback import ORS_CUTOFF, OrsSubmitted
from rapport_common.events.fields import tenths

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig


class OrsCutoffs(Thresholds):
    adult: ScalePoints = ORS_CUTOFF["adult"]
    adolescent: ScalePoints = ORS_CUTOFF["adolescent"]
    child: ScalePoints = ORS_CUTOFF["child"]

    def for_band(self, age_band: str) -> float:
        return float(getattr(self, age_band))


class OrsThresholds(Thresholds):
    reliable_change: ScalePoints = Field(5.0, description="points from the intake baseline")
    cutoffs: OrsCutoffs = Field(
        OrsCutoffs(),
        description="clinical cutoff per age band (baseline below it: ors-not-improving applies)",
    )
    not_improving_from_session: int = Field(
        4, ge=1, le=SESSION_START_LIMIT + 1, description="ors-not-improving from this session number on"
    )


def _latest_with_baseline(facts: Facts, event: OrsSubmitted) -> tuple[ScaleScore, BaselineScore] | None:
    """The event's score when it is the pair's latest session ORS and a baseline exists."""
    pair, baseline = facts.pair, facts.client.baseline
    if event.data.session_id is None or baseline is None or not pair.ors or pair.ors[-1].event_id != event.id:
        return None
    return pair.ors[-1], baseline


def ors_deterioration(facts: Facts, event: OrsSubmitted, config: RulesConfig) -> Verdict:
    found = _latest_with_baseline(facts, event)
    if found is None:
        return None
    score, baseline = found
    below = baseline.total_tenths - score.total_tenths
    if below < tenths(config.ors.reliable_change):
        return Cleared(
            f"The latest outcome rating ({points(score.total_tenths)}/40) is within "
            f"{config.ors.reliable_change:g} points of the baseline."
        )
    number = facts.pair.session_number(score.session_id, score.at)
    return Finding(
        f"The client's outcome rating in session {number} was {points(score.total_tenths)}/40, "
        f"{points(below)} below their intake baseline of {points(baseline.total_tenths)}. Worth "
        "reviewing together how things are going and whether the plan still fits?",
        (event.id,),
        event.data.session_id,
    )


ORS_DETERIORATION = Rule(
    id="ors-deterioration",
    category="outcome",
    severity="high",
    audience="clinician",
    kind="condition",
    on=(OrsSubmitted,),
    thresholds=OrsThresholds,
    check=ors_deterioration,
    explains="The outcome rating is {ors.reliable_change:g} or more points below the intake baseline.",
)


def ors_not_improving(facts: Facts, event: OrsSubmitted, config: RulesConfig) -> Verdict:
    found = _latest_with_baseline(facts, event)
    if found is None:
        return None
    score, baseline = found
    change = tenths(config.ors.reliable_change)
    number = facts.pair.session_number(score.session_id, score.at)
    clinical = baseline.total_tenths < tenths(config.ors.cutoffs.for_band(baseline.age_band))
    deteriorated = baseline.total_tenths - score.total_tenths >= change
    if score.total_tenths >= baseline.total_tenths + change:
        return Cleared(
            f"The outcome rating reached {points(score.total_tenths)}/40, a reliable improvement on the "
            f"baseline of {points(baseline.total_tenths)}."
        )
    if number < config.ors.not_improving_from_session or not clinical or deteriorated:
        return None
    return Finding(
        f"By session {number} the client's outcome rating ({points(score.total_tenths)}/40) has not "
        f"risen {config.ors.reliable_change:g} points above their intake baseline of "
        f"{points(baseline.total_tenths)}. Worth revisiting goals and approach together, or in "
        "supervision?",
        (event.id,),
        event.data.session_id,
    )


ORS_NOT_IMPROVING = Rule(
    id="ors-not-improving",
    category="outcome",
    severity="medium",
    audience="clinician",
    kind="condition",
    on=(OrsSubmitted,),
    thresholds=OrsThresholds,
    check=ors_not_improving,
    explains="From session {ors.not_improving_from_session} on, the outcome rating has not yet moved "
    "{ors.reliable_change:g} points above the baseline.",
)

RULES = (ORS_DETERIORATION, ORS_NOT_IMPROVING)
