"""consent-violation, the gate in the engine (uncovered events are never analysed), and holds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rapport_alliance_monitor.domain import ConsentDecision, MonitorState, RulesConfig, evaluate

MIN = timedelta(minutes=1)


def without(scope: str, events) -> list[str]:
    return [s for s in events.ANALYSED_SCOPES if s != scope]


def test_session_started_without_telehealth_treatment(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("telehealth-treatment", events))
    event = events.started("s1", events.T0)
    alert = monitor.feed(event).raised("consent-violation")
    assert (alert.severity, alert.audience, alert.category, alert.scope) == (
        "high",
        "compliance",
        "consent",
        "telehealth-treatment",
    )
    assert alert.evidence == (event.id,)
    assert alert.session_id == "s1"
    assert "A session started while no active telehealth-treatment consent" in alert.summary
    assert monitor.pair().session_starts == ()  # not counted: the event is not analysed


def test_recording_without_session_recording(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("session-recording", events))
    assert monitor.feed(events.recording("s1", events.T0)).raised("consent-violation").scope == "session-recording"


def test_feedback_without_measurement_feedback_is_not_analysed(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("measurement-feedback", events))
    monitor.feed(events.started("s1", events.T0))
    decisions = monitor.feed(events.srs(10.0, session_id="s1", at=events.T0 + 50 * MIN))
    assert decisions.kinds() == [("Raise", "consent-violation")]
    assert monitor.pair().srs == ()


def test_telemetry_without_alliance_analytics_is_not_analysed(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("alliance-analytics", events))
    low = [events.telemetry("s1", events.T0 + n * MIN, camera=0.0) for n in range(1, 6)]
    decisions = monitor.feed(*low)
    assert decisions.kinds() == [("Raise", "consent-violation")] + [("Update", "consent-violation")] * 4
    assert monitor.pair().telemetry == ()


def test_flagged_message_without_message_scanning(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("message-scanning", events))
    sunday = events.T0 - timedelta(days=1)  # off-hours, but the message is covered by telehealth-treatment
    decisions = monitor.feed(events.message(sunday, flags=["payment-request"]))
    assert decisions.kinds() == [("Raise", "consent-violation")]
    assert decisions.raised("consent-violation").scope == "message-scanning"
    assert len(monitor.pair().off_hours_messages) == 1  # its time is still analysed; its flags are not


def test_unflagged_message_needs_no_message_scanning(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("message-scanning", events))
    assert monitor.feed(events.message(events.T0 + 60 * MIN)) == []


def test_other_uncovered_events_are_silently_not_analysed(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("telehealth-treatment", events))
    assert monitor.feed(events.ended("s1", events.T0, minutes_over=30), events.no_show("s2", events.T0)) == []
    assert monitor.pair().ended == () and monitor.pair().attendance == ()


def test_one_open_alert_per_pair_and_scope(bare_monitor, events) -> None:
    first = bare_monitor.feed(events.started("s1", events.T0)).raised("consent-violation")
    second = events.started("s2", events.T0 + timedelta(days=7))
    update = bare_monitor.feed(second)
    assert update.kinds() == [("Update", "consent-violation")]
    assert (update[0].alert_id, update[0].added_evidence) == (first.alert_id, (second.id,))
    other_scope = bare_monitor.feed(events.pulse(1, session_id="s2", at=events.T0 + timedelta(days=7)))
    assert other_scope.raised("consent-violation").alert_id != first.alert_id


def test_never_resolved_by_rule_and_a_new_episode_after_a_person_resolves(bare_monitor, events) -> None:
    opened = bare_monitor.feed(events.started("s1", events.T0)).raised("consent-violation")
    bare_monitor.feed(events.grant("telehealth-treatment", valid_from=events.T0 + timedelta(days=1)))
    assert bare_monitor.feed(events.started("s2", events.T0 + timedelta(days=7))) == []
    assert bare_monitor.pair().open_alert("consent-violation", "telehealth-treatment") is not None
    bare_monitor.resolve_by_person(opened.alert_id)
    bare_monitor.feed(events.revoke("telehealth-treatment", effective_at=events.T0 + timedelta(days=10)))
    again = bare_monitor.feed(events.started("s3", events.T0 + timedelta(days=14))).raised("consent-violation")
    assert again.alert_id != opened.alert_id


def test_revocation_effective_exactly_at_the_event(monitor, events) -> None:
    at = events.T0 + timedelta(days=2)
    monitor.feed(events.revoke("measurement-feedback", effective_at=at))
    assert monitor.feed(events.pulse(1, session_id="s1", at=at - timedelta(microseconds=1))).kinds() == [
        ("Raise", "pulse-low")
    ]
    assert monitor.feed(events.pulse(1, session_id="s1", at=at)).kinds() == [("Raise", "consent-violation")]


def test_consent_valid_until_is_exclusive(make_monitor, events) -> None:
    monitor = make_monitor(scopes=without("measurement-feedback", events))
    until = events.T0 + timedelta(days=2)
    monitor.feed(events.grant("measurement-feedback", valid_until=until))
    assert monitor.feed(events.pulse(1, session_id="s1", at=until - timedelta(seconds=1))).kinds() == [
        ("Raise", "pulse-low")
    ]
    assert monitor.feed(events.pulse(1, session_id="s1", at=until)).kinds() == [("Raise", "consent-violation")]


class TestHolds:
    def test_an_event_waits_for_a_consent_that_arrives_late(self, make_monitor, events) -> None:
        monitor = make_monitor(scopes=without("measurement-feedback", events))
        pulse = events.pulse(1, session_id="s1", at=events.T0)
        assert monitor.feed(pulse, hold_expired=False) == []
        assert monitor.held == [pulse]
        monitor.feed(events.grant("measurement-feedback"))
        assert monitor.release(hold_expired=False).kinds() == [("Raise", "pulse-low")]
        assert monitor.held == []

    def test_an_unrelated_consent_keeps_it_held(self, make_monitor, events) -> None:
        monitor = make_monitor(scopes=without("measurement-feedback", events))
        monitor.feed(events.pulse(1, session_id="s1", at=events.T0), hold_expired=False)
        monitor.feed(events.grant("research"))
        assert monitor.release(hold_expired=False) == []
        assert len(monitor.held) == 1

    def test_when_the_hold_ends_the_event_is_decided_not_dropped(self, make_monitor, events) -> None:
        monitor = make_monitor(scopes=without("measurement-feedback", events))
        pulse = events.pulse(1, session_id="s1", at=events.T0)
        monitor.feed(pulse, hold_expired=False)
        decisions = monitor.release(hold_expired=True)
        assert decisions.kinds() == [("Raise", "consent-violation")]
        assert decisions[0].evidence == (pulse.id,)

    def test_evaluate_refuses_an_undecided_event(self, events) -> None:
        with pytest.raises(ValueError, match="hold the event"):
            evaluate(
                MonitorState(),
                events.pulse(1, session_id="s1", at=events.T0),
                RulesConfig(),
                consent_decision=ConsentDecision("unknown-yet", ("measurement-feedback",)),
            )


def test_consent_violation_can_be_disabled(make_monitor, events) -> None:
    monitor = make_monitor(
        RulesConfig.model_validate({"rules": {"consent-violation": {"enabled": False}}}),
        scopes=without("measurement-feedback", events),
    )
    assert monitor.feed(events.pulse(1, session_id="s1", at=events.T0)) == []
