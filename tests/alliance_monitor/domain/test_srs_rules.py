"""SRS rules at and around every threshold, exact in tenths."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rapport_alliance_monitor.domain import Raise, Resolve, RulesConfig, Update

WEEK = timedelta(days=7)


def sessions(monitor, events, count: int) -> None:
    """``count`` started sessions s1..sN, one a week from T0."""
    monitor.feed(*(events.started(f"s{n}", events.T0 + (n - 1) * WEEK) for n in range(1, count + 1)))


def srs_at(events, session: int, total: float | None = None, **kw):
    return events.srs(
        total, session_id=f"s{session}", at=events.T0 + (session - 1) * WEEK + timedelta(minutes=50), **kw
    )


class TestEarlyLowAlliance:
    @pytest.mark.parametrize("session", [1, 2, 3])
    def test_below_cutoff_in_the_first_three_sessions(self, monitor, events, session: int) -> None:
        sessions(monitor, events, session)
        event = srs_at(events, session, 35.9)
        decisions = monitor.feed(event)
        alert = decisions.raised("early-low-alliance")
        assert decisions.kinds() == [("Raise", "early-low-alliance")]
        assert (alert.severity, alert.audience, alert.category) == ("high", "clinician", "alliance")
        assert alert.evidence == (event.id,)
        assert alert.session_id == f"s{session}"
        assert f"session {session} at 35.9/40" in alert.summary

    def test_at_the_cutoff_nothing(self, monitor, events) -> None:
        sessions(monitor, events, 1)
        assert monitor.feed(srs_at(events, 1, 36.0)) == []

    def test_session_four_is_srs_below_cutoff_instead(self, monitor, events) -> None:
        sessions(monitor, events, 4)
        assert monitor.feed(srs_at(events, 4, 35.9)).kinds() == [("Raise", "srs-below-cutoff")]

    def test_each_low_response_raises_its_own_alert(self, monitor, events) -> None:
        sessions(monitor, events, 2)
        first = monitor.feed(srs_at(events, 1, 30.0)).raised("early-low-alliance")
        second = monitor.feed(srs_at(events, 2, 31.0)).raised("early-low-alliance")
        assert first.alert_id != second.alert_id

    def test_session_number_follows_event_time_when_starts_arrive_late(self, monitor, events) -> None:
        # s4's start arrives first; the three earlier starts arrive after it: s4 is still session 4
        monitor.feed(events.started("s4", events.T0 + 3 * WEEK))
        monitor.feed(*(events.started(f"s{n}", events.T0 + (n - 1) * WEEK) for n in (3, 1, 2)))
        assert monitor.feed(srs_at(events, 4, 30.0)).kinds() == [("Raise", "srs-below-cutoff")]


class TestSrsBelowCutoff:
    def test_raise_update_resolve(self, monitor, events) -> None:
        sessions(monitor, events, 7)
        first = srs_at(events, 4, 35.9)
        opened = monitor.feed(first).raised("srs-below-cutoff")
        assert (opened.severity, opened.audience) == ("medium", "clinician")
        assert opened.evidence == (first.id,)

        second = srs_at(events, 5, 30.0)
        update = monitor.feed(second)
        assert update.kinds() == [("Update", "srs-below-cutoff")]
        assert isinstance(update[0], Update)
        assert (update[0].alert_id, update[0].added_evidence) == (opened.alert_id, (second.id,))

        cleared = monitor.feed(srs_at(events, 6, 36.0))
        assert cleared.kinds() == [("Resolve", "srs-below-cutoff")]
        assert isinstance(cleared[0], Resolve)
        assert (cleared[0].alert_id, cleared[0].by) == (opened.alert_id, "rule")

        reopened = monitor.feed(srs_at(events, 7, 20.0)).raised("srs-below-cutoff")
        assert reopened.alert_id != opened.alert_id

    def test_at_the_cutoff_nothing_raised(self, monitor, events) -> None:
        sessions(monitor, events, 4)
        assert monitor.feed(srs_at(events, 4, 36.0)) == []

    def test_a_late_older_response_does_not_flip_the_condition(self, monitor, events) -> None:
        sessions(monitor, events, 6)
        monitor.feed(srs_at(events, 6, 30.0))
        assert monitor.feed(srs_at(events, 5, 39.0)) == []
        assert monitor.pair().open_alert("srs-below-cutoff") is not None


class TestSrsItemLow:
    def test_item_just_below(self, monitor, events) -> None:
        sessions(monitor, events, 4)
        event = srs_at(events, 4, items=(10.0, 10.0, 7.9, 10.0))
        alert = monitor.feed(event).raised("srs-item-low")
        assert (alert.severity, alert.audience) == ("low", "clinician")
        assert "the approach fitting them 7.9/10" in alert.summary
        assert alert.evidence == (event.id,)

    def test_item_at_the_threshold(self, monitor, events) -> None:
        sessions(monitor, events, 4)
        assert monitor.feed(srs_at(events, 4, items=(10.0, 10.0, 8.0, 10.0))) == []

    def test_total_below_cutoff_is_not_item_low(self, monitor, events) -> None:
        sessions(monitor, events, 4)
        decisions = monitor.feed(srs_at(events, 4, items=(10.0, 10.0, 5.0, 10.0)))
        assert decisions.kinds() == [("Raise", "srs-below-cutoff")]

    def test_total_exactly_at_cutoff_with_a_low_item(self, monitor, events) -> None:
        sessions(monitor, events, 4)
        assert monitor.feed(srs_at(events, 4, items=(10.0, 10.0, 6.0, 10.0))).kinds() == [("Raise", "srs-item-low")]


class TestSrsDrop:
    def test_drop_of_exactly_three_point_zero(self, monitor, events) -> None:
        sessions(monitor, events, 5)
        previous = srs_at(events, 4, 39.4)
        monitor.feed(previous)
        current = srs_at(events, 5, 36.4)
        alert = monitor.feed(current).raised("srs-drop")
        assert alert.evidence == (previous.id, current.id)
        assert "from 39.4 to 36.4/40" in alert.summary

    def test_drop_of_two_point_nine(self, monitor, events) -> None:
        sessions(monitor, events, 5)
        monitor.feed(srs_at(events, 4, 39.4))
        assert monitor.feed(srs_at(events, 5, 36.5)) == []

    def test_drop_below_cutoff_is_srs_below_cutoff_not_drop(self, monitor, events) -> None:
        sessions(monitor, events, 5)
        monitor.feed(srs_at(events, 4, 39.4))
        assert monitor.feed(srs_at(events, 5, 35.9)).kinds() == [("Raise", "srs-below-cutoff")]

    def test_compares_with_the_previous_response_by_event_time(self, monitor, events) -> None:
        sessions(monitor, events, 6)
        monitor.feed(srs_at(events, 4, 40.0), srs_at(events, 6, 36.5))
        # session 5's response arrives last: its previous is session 4's (40.0), a drop of 3.0
        assert monitor.feed(srs_at(events, 5, 37.0)).kinds() == [("Raise", "srs-drop")]

    def test_first_response_has_nothing_to_drop_from(self, monitor, events) -> None:
        sessions(monitor, events, 4)
        assert monitor.feed(srs_at(events, 4, 36.0)) == []


class TestSrsCeiling:
    def test_three_perfect_scores_raise_then_update_then_clear(self, monitor, events) -> None:
        sessions(monitor, events, 7)
        first_two = [srs_at(events, 1, 40.0), srs_at(events, 2, 40.0)]
        assert monitor.feed(*first_two) == []
        third = srs_at(events, 3, 40.0)
        opened = monitor.feed(third).raised("srs-ceiling")
        assert opened.evidence == (first_two[0].id, first_two[1].id, third.id)
        assert (opened.severity, opened.audience) == ("info", "clinician")

        fourth = srs_at(events, 4, 40.0)
        update = monitor.feed(fourth)
        assert update.kinds() == [("Update", "srs-ceiling")]
        assert update[0].added_evidence == (fourth.id,)

        cleared = monitor.feed(srs_at(events, 5, 39.9))
        assert cleared.kinds() == [("Resolve", "srs-ceiling")]
        assert cleared[0].alert_id == opened.alert_id

    def test_two_perfect_scores_are_not_a_ceiling(self, monitor, events) -> None:
        sessions(monitor, events, 3)
        assert monitor.feed(srs_at(events, 1, 39.9), srs_at(events, 2, 40.0), srs_at(events, 3, 40.0)) == []


def test_severity_and_audience_overrides_reach_the_alert(make_monitor, events) -> None:
    config = RulesConfig.model_validate(
        {"rules": {"early-low-alliance": {"severity": "medium", "audience": "supervisor"}}}
    )
    monitor = make_monitor(config)
    sessions(monitor, events, 1)
    alert = monitor.feed(srs_at(events, 1, 20.0)).raised("early-low-alliance")
    assert isinstance(alert, Raise)
    assert (alert.severity, alert.audience) == ("medium", "supervisor")


def test_a_disabled_rule_raises_nothing(make_monitor, events) -> None:
    monitor = make_monitor(RulesConfig.model_validate({"rules": {"early-low-alliance": {"enabled": False}}}))
    sessions(monitor, events, 1)
    assert monitor.feed(srs_at(events, 1, 20.0)) == []


def test_client_comment_never_reaches_a_summary(monitor, events) -> None:
    sessions(monitor, events, 1)
    decisions = monitor.feed(srs_at(events, 1, items=(5.0, 5.0, 5.0, 5.0), comment="PRIVATE-REMARK"))
    assert decisions and all("PRIVATE-REMARK" not in d.summary for d in decisions)
