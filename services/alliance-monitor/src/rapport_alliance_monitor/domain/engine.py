"""The monitor's one entry point: an event in, the new state and the alert decisions out.

    keys = state_keys(event)                        # which rows to load (client, pair, clinician)
    decision = decide(state.client, event, hold_expired=False)
    if decision.status == "unknown-yet": hold the event (see consent_gate)
    else: result = evaluate(state, event, config, consent_decision=decision)

Per event: ignore a redelivery (the pair remembers recent event ids); raise consent-violation where the
consent is missing; stop there if the event is not covered; otherwise record its facts, run every enabled
rule on them, and book the decisions (open, update, resolve) in the pair state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.consent_gate import ConsentDecision, analysable
from rapport_alliance_monitor.domain.rules import CONSENT_VIOLATION, apply, consent_violation, rules_for
from rapport_alliance_monitor.domain.state import ClientState, Facts, MonitorState, PairState
from rapport_alliance_monitor.domain.transitions import record_client_event, record_clinician, record_pair_event
from rapport_common.events import consent, feedback, intake, session
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.intake import ClinicianRegistered

_CLIENT_TOPICS = frozenset({intake.TOPIC, consent.TOPIC})
_PAIR_TOPICS = frozenset({session.TOPIC, feedback.TOPIC})


@dataclass(frozen=True, slots=True)
class StateKeys:
    """The rows an event reads and writes: a client row, a clinician row, and the pair row of both."""

    client_id: str | None = None
    clinician_id: str | None = None
    pair: bool = False


def state_keys(event: CloudEvent[Any]) -> StateKeys:
    if isinstance(event, ClinicianRegistered):
        return StateKeys(clinician_id=event.data.clinician_id)
    topic = type(event).topic
    if topic in _CLIENT_TOPICS:
        return StateKeys(client_id=event.data.client_id)
    if topic in _PAIR_TOPICS:
        return StateKeys(client_id=event.data.client_id, clinician_id=event.data.clinician_id, pair=True)
    return StateKeys()


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """The state after the event (unchanged parts are the same objects) and what to publish."""

    new_state: MonitorState
    decisions: tuple[AlertDecision, ...] = ()


def evaluate(
    state: MonitorState, event: CloudEvent[Any], config: RulesConfig, *, consent_decision: ConsentDecision
) -> EvaluationResult:
    """Apply ``event`` to ``state`` and run the rules. Missing rows (None) start empty."""
    if not consent_decision.final:
        raise ValueError(f"event {event.id}: consent is unknown-yet; hold the event until it is decided")
    if isinstance(event, ClinicianRegistered):
        return EvaluationResult(replace(state, clinician=record_clinician(state.clinician, event)))
    topic = type(event).topic
    if topic in _CLIENT_TOPICS:
        client = state.client or ClientState(client_id=event.data.client_id)
        return EvaluationResult(replace(state, client=record_client_event(client, event)))
    if topic in _PAIR_TOPICS:
        return _evaluate_pair(state, event, config, consent_decision)
    return EvaluationResult(state)


def _evaluate_pair(
    state: MonitorState, event: CloudEvent[Any], config: RulesConfig, consent_decision: ConsentDecision
) -> EvaluationResult:
    data = event.data
    pair = state.pair or PairState(client_id=data.client_id, clinician_id=data.clinician_id)
    if (pair.client_id, pair.clinician_id) != (data.client_id, data.clinician_id):
        raise ValueError(f"event {event.id} is about another pair than the state given")
    if pair.has_seen(event.id):
        return EvaluationResult(state)
    pair = pair.remembering(event.id)
    client = state.client or ClientState(client_id=data.client_id)

    decisions: list[AlertDecision] = []
    if config.enabled(CONSENT_VIOLATION.id):
        decisions += consent_violation(pair, event, config, consent_decision)
    visible = analysable(event, consent_decision)
    if visible is None:
        # not covered: nothing else is analysed, nothing of it is kept
        return EvaluationResult(replace(state, client=client, pair=pair.with_decisions(decisions)), tuple(decisions))

    facts = record_pair_event(Facts(client=client, pair=pair, clinician=state.clinician), visible, config)
    for rule in rules_for(visible):
        if config.enabled(rule.id):
            decisions += apply(rule, facts=facts, event=visible, config=config)
    new_state = replace(state, client=facts.client, pair=facts.pair.with_decisions(decisions))
    return EvaluationResult(new_state, tuple(decisions))
