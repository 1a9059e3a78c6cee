"""The engine end to end: every rule fires somewhere in one history; redelivery and replay add nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rapport_alliance_monitor.domain import (
    RULES,
    MonitorState,
    PairState,
    Raise,
    Resolve,
    RulesConfig,
    StateKeys,
    Update,
    decide,
    evaluate,
    state_keys,
)
from rapport_common.events.alerts import AlertRaised, AlertResolved, AlertUpdated
from rapport_common.events.codec import decode_event, encode_event
from rapport_common.events.envelope import new_event

DAY, WEEK, MIN = timedelta(days=1), timedelta(days=7), timedelta(minutes=1)


def history(events) -> list:
    """About sixty events of one pair in which each of the fifteen rules raises at least once."""
    t0 = events.T0
    srs = {1: 30.0, 2: 40.0, 3: 40.0, 4: 40.0, 5: 37.0, 6: 35.0}  # early-low, ceiling, drop, below
    ors = {1: 19.0, 4: 21.0, 5: 14.0, 6: 26.0}
    out = [events.intake(20.0)]
    for n in range(1, 7):
        start = t0 + (n - 1) * WEEK
        out.append(events.started(f"s{n}", start))
        if n in ors:
            out.append(events.ors(ors[n], session_id=f"s{n}", at=start + MIN))
        if n == 2:
            out.append(events.pulse(2, session_id="s2", at=start + 20 * MIN))
        if n == 3:
            out += [events.telemetry("s3", start + k * MIN, camera=0.1) for k in range(1, 6)]
            out.append(events.overrun("s3", 15, start + 50 * MIN))
        out.append(events.srs(srs[n], session_id=f"s{n}", at=start + 50 * MIN))
        out.append(events.ended(f"s{n}", start, minutes_over=12 if n <= 3 else 0))
    # a second response for s6, 37.9 with one low item: item-low, and below-cutoff clears
    out.append(events.srs(session_id="s6", at=t0 + 5 * WEEK + 55 * MIN, items=(10.0, 10.0, 7.9, 10.0)))
    out += [events.no_show("s7", t0 + 6 * WEEK), events.no_show("s8", t0 + 7 * WEEK)]
    out.append(events.started("s9", t0 + 8 * WEEK))
    out += [events.message(t0 + 8 * WEEK + d * DAY + 12 * 60 * MIN) for d in range(3)]  # 21:00 Berlin
    out.append(events.message(t0 + 8 * WEEK + 2 * 60 * MIN, sender="client", flags=["off-platform-contact"]))
    out.append(events.revoke("session-recording", effective_at=t0 + 9 * WEEK))
    out.append(events.recording("s10", t0 + 9 * WEEK + DAY))
    return out


@pytest.fixture
def story(events) -> list:
    return history(events)


def test_every_rule_raises_somewhere_in_the_history(monitor, story) -> None:
    decisions = monitor.feed(*story)
    assert {d.rule for d in decisions if isinstance(d, Raise)} == set(RULES)
    assert {d.rule for d in decisions if isinstance(d, Resolve)} == {
        "srs-below-cutoff",
        "srs-ceiling",
        "ors-deterioration",
        "ors-not-improving",
        "attendance-withdrawal",
        "overrun-pattern",
    }


def test_a_redelivered_event_changes_nothing(monitor, story) -> None:
    for event in story:
        monitor.feed(event)
        rows = (dict(monitor.clients), dict(monitor.pairs), dict(monitor.clinicians))
        assert monitor.feed(event) == []
        assert (monitor.clients, monitor.pairs, monitor.clinicians) == rows


def test_replaying_the_history_raises_nothing_new(monitor, story) -> None:
    assert monitor.feed(*story)
    pair = monitor.pair()
    assert monitor.feed(*story) == []
    assert monitor.pair() == pair


def test_alert_ids_are_deterministic_across_fresh_replays(make_monitor, story) -> None:
    first = make_monitor().feed(*story)
    second = make_monitor().feed(*story)
    assert first == second
    assert len({d.alert_id for d in first if isinstance(d, Raise)}) == len([d for d in first if isinstance(d, Raise)])


def test_decisions_make_valid_contract_events(monitor, story) -> None:
    classes = {Raise: AlertRaised, Update: AlertUpdated, Resolve: AlertResolved}
    for decision in monitor.feed(*story):
        event = new_event(
            classes[type(decision)],
            subject=decision.client_id,
            source="/rapport/alliance-monitor",
            data=decision.to_payload(),
            time=decision.at,
        )
        assert decode_event(encode_event(event).value) == event


def test_summaries_are_short_prompts(monitor, story) -> None:
    decisions = [d for d in monitor.feed(*story) if not isinstance(d, Resolve)]
    assert decisions
    for decision in decisions:
        assert 0 < len(decision.summary) <= 500
        assert decision.summary.endswith("?"), decision.summary


def test_state_keys_name_the_rows_to_load(events) -> None:
    assert state_keys(events.clinician()) == StateKeys(clinician_id=events.clinician_id)
    assert state_keys(events.grant("research")) == StateKeys(client_id=events.client_id)
    assert state_keys(events.assigned()) == StateKeys(client_id=events.client_id)
    pair = StateKeys(client_id=events.client_id, clinician_id=events.clinician_id, pair=True)
    assert state_keys(events.started("s1", events.T0)) == pair
    assert state_keys(events.srs(38.0, session_id="s1", at=events.T0)) == pair
    assert state_keys(events.message(events.T0)) == pair


def test_a_state_of_another_pair_is_refused(events) -> None:
    event = events.started("s1", events.T0)
    wrong = MonitorState(pair=PairState(client_id=events.client_id, clinician_id="someone-else"))
    with pytest.raises(ValueError, match="another pair"):
        evaluate(wrong, event, RulesConfig(), consent_decision=decide(None, event, hold_expired=True))


def test_events_no_rule_reads_are_recorded_as_seen_only(monitor, events) -> None:
    wai = events.wai(session_id="s1", at=events.T0)
    assert monitor.feed(wai) == []
    assert monitor.pair().has_seen(wai.id)


def test_alert_events_are_not_judged(events) -> None:
    from rapport_common.events.alerts import AlertResolvedData

    resolved = new_event(
        AlertResolved,
        subject=events.client_id,
        source="/rapport/alliance-monitor",
        data=AlertResolvedData(alert_id="a", by="user-1", at=datetime(2026, 3, 2, tzinfo=UTC), reason="talked"),
    )
    state = MonitorState()
    result = evaluate(state, resolved, RulesConfig(), consent_decision=decide(None, resolved, hold_expired=False))
    assert result.new_state is state and result.decisions == ()
