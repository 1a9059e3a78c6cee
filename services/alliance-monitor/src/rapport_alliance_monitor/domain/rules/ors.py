"""Outcome Rating Scale rules, against the client's intake baseline (reliable change = 5.0 points).

Both are condition rules judged on the pair's latest ORS by event time; the intake baseline itself (an ORS
without a session) is recorded on the client and never judged.
"""

from __future__ import annotations

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.records import ScaleScore
from rapport_alliance_monitor.domain.rules.kinds import Cleared, Finding, Verdict, condition
from rapport_alliance_monitor.domain.rules.wording import points
from rapport_alliance_monitor.domain.state import BaselineScore, Facts
from rapport_common.events.feedback import OrsSubmitted
from rapport_common.events.fields import tenths


def _latest_with_baseline(facts: Facts, event: OrsSubmitted) -> tuple[ScaleScore, BaselineScore] | None:
    """The event's score when it is the pair's latest session ORS and a baseline exists."""
    pair, baseline = facts.pair, facts.client.baseline
    if event.data.session_id is None or baseline is None or not pair.ors or pair.ors[-1].event_id != event.id:
        return None
    return pair.ors[-1], baseline


def ors_deterioration(facts: Facts, event: OrsSubmitted, config: RulesConfig) -> list[AlertDecision]:
    found = _latest_with_baseline(facts, event)
    verdict: Verdict = None
    if found is not None:
        score, baseline = found
        below = baseline.total_tenths - score.total_tenths
        if below >= tenths(config.ors.reliable_change):
            number = facts.pair.session_number(score.session_id, score.at)
            verdict = Finding(
                f"The client's outcome rating in session {number} was {points(score.total_tenths)}/40, "
                f"{points(below)} below their intake baseline of {points(baseline.total_tenths)}. Worth "
                "reviewing together how things are going and whether the plan still fits?",
                (event.id,),
                event.data.session_id,
            )
        else:
            verdict = Cleared(
                f"The latest outcome rating ({points(score.total_tenths)}/40) is within "
                f"{config.ors.reliable_change:g} points of the baseline."
            )
    return condition("ors-deterioration", facts.pair, event, config, verdict)


def ors_not_improving(facts: Facts, event: OrsSubmitted, config: RulesConfig) -> list[AlertDecision]:
    found = _latest_with_baseline(facts, event)
    verdict: Verdict = None
    if found is not None:
        score, baseline = found
        change = tenths(config.ors.reliable_change)
        number = facts.pair.session_number(score.session_id, score.at)
        clinical = baseline.total_tenths < tenths(config.ors.cutoffs.for_band(baseline.age_band))
        deteriorated = baseline.total_tenths - score.total_tenths >= change
        if score.total_tenths >= baseline.total_tenths + change:
            verdict = Cleared(
                f"The outcome rating reached {points(score.total_tenths)}/40, a reliable improvement on the "
                f"baseline of {points(baseline.total_tenths)}."
            )
        elif number >= config.ors.not_improving_from_session and clinical and not deteriorated:
            verdict = Finding(
                f"By session {number} the client's outcome rating ({points(score.total_tenths)}/40) has not "
                f"risen {config.ors.reliable_change:g} points above their intake baseline of "
                f"{points(baseline.total_tenths)}. Worth revisiting goals and approach together, or in "
                "supervision?",
                (event.id,),
                event.data.session_id,
            )
    return condition("ors-not-improving", facts.pair, event, config, verdict)
