"""HANDLED_TYPES, read off the engine's registrations, and what skipping every other type costs: nothing.

The consumer skips a type the engine does not act on; that is safe only if evaluating such an event can
change nothing but a pair's memory of event ids. Checked here for every contract type of the input topics,
covered and not covered.
"""

from __future__ import annotations

from typing import Any

import pytest

from rapport_alliance_monitor.domain import ClientState, MonitorState, PairState, RulesConfig, decide, evaluate
from rapport_alliance_monitor.domain.consent_gate import COVERED, VIOLATION_SCOPES
from rapport_alliance_monitor.domain.engine import HANDLED_TYPES
from rapport_alliance_monitor.domain.rules import RULES_BY_EVENT
from rapport_alliance_monitor.domain.transitions import CLIENT_TRANSITIONS, CLINICIAN_TRANSITIONS, PAIR_TRANSITIONS
from rapport_alliance_monitor.settings import DEFAULT_TOPICS
from rapport_common.events.catalog import EVENT_CLASSES
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.examples import example_event
from rapport_common.events.feedback import WaiSubmitted
from rapport_common.events.session import ParticipantJoined, ParticipantLeft, SessionOverrun, SessionScheduled

INPUT_TYPES = [cls for cls in EVENT_CLASSES if cls.topic in DEFAULT_TOPICS]
SKIPPED = [cls for cls in INPUT_TYPES if cls not in HANDLED_TYPES]


def test_handled_types_are_the_union_of_the_registrations() -> None:
    registered = {
        *CLINICIAN_TRANSITIONS,
        *CLIENT_TRANSITIONS,
        *PAIR_TRANSITIONS,
        *RULES_BY_EVENT,
        *VIOLATION_SCOPES,
    }
    assert registered == HANDLED_TYPES
    assert HANDLED_TYPES.issubset(INPUT_TYPES)


def test_a_type_only_a_rule_or_only_a_violation_looks_at_is_handled() -> None:
    assert SessionOverrun in HANDLED_TYPES and SessionOverrun not in PAIR_TRANSITIONS  # live-overrun only
    assert WaiSubmitted in HANDLED_TYPES and WaiSubmitted not in RULES_BY_EVENT  # consent-violation only


def test_the_types_skipped_today() -> None:
    assert set(SKIPPED) == {SessionScheduled, ParticipantJoined, ParticipantLeft}


@pytest.mark.parametrize("event_cls", SKIPPED, ids=lambda cls: cls.event_type())
@pytest.mark.parametrize("hold_expired", [False, True], ids=["covered", "not-covered"])
def test_a_skipped_type_changes_nothing_but_a_pair_s_memory(
    event_cls: type[CloudEvent[Any]], hold_expired: bool
) -> None:
    event = example_event(event_cls)
    decision = decide(None, event, hold_expired=True) if hold_expired else COVERED
    result = evaluate(MonitorState(), event, RulesConfig(), consent_decision=decision)
    assert result.decisions == ()
    data: Any = event.data
    new = result.new_state
    assert new.clinician is None
    assert new.client in (None, ClientState(client_id=data.client_id))
    assert new.pair in (None, PairState(client_id=data.client_id, clinician_id=data.clinician_id).remembering(event.id))
