"""Boundary rules: overrun pattern, off-hours contact (clinician's timezone, DST), off-platform contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WEEK = timedelta(days=7)


def ended(events, n: int, minutes_over: float):
    return events.ended(f"s{n}", events.T0 + (n - 1) * WEEK, minutes_over=minutes_over)


class TestOverrunPattern:
    def test_three_of_the_last_five_at_ten_minutes(self, monitor, events) -> None:
        first = [ended(events, 1, 10), ended(events, 2, 0), ended(events, 3, 10)]
        assert monitor.feed(*first) == []
        third = ended(events, 4, 10)
        alert = monitor.feed(third).raised("overrun-pattern")
        assert alert.evidence == (first[0].id, first[2].id, third.id)
        assert (alert.severity, alert.audience, alert.category) == ("low", "supervisor", "boundary")
        assert "3 of the last 4 sessions" in alert.summary

    def test_nine_minutes_do_not_count(self, monitor, events) -> None:
        assert monitor.feed(ended(events, 1, 10), ended(events, 2, 10), ended(events, 3, 9.99)) == []

    def test_two_of_five_nothing(self, monitor, events) -> None:
        assert monitor.feed(*(ended(events, n, m) for n, m in enumerate([10, 0, 0, 10, 0], start=1))) == []

    def test_update_while_open_and_resolve_when_fewer_than_three_of_five(self, monitor, events) -> None:
        opened = monitor.feed(*(ended(events, n, 12) for n in (1, 2, 3))).raised("overrun-pattern")
        fourth = ended(events, 4, 20)
        update = monitor.feed(fourth)
        assert update.kinds() == [("Update", "overrun-pattern")]
        assert update[0].added_evidence == (fourth.id,)
        # on-time sessions: still 4 of 5, then 3 of 5 (s2..s4; no new evidence, nothing to say) ...
        assert monitor.feed(ended(events, 5, 0), ended(events, 6, 0)) == []
        # ... then s2 rolls out of the last five: 2 of 5 (s3, s4) -> resolved by rule
        cleared = monitor.feed(ended(events, 7, 0))
        assert cleared.kinds() == [("Resolve", "overrun-pattern")]
        assert cleared[0].alert_id == opened.alert_id


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """A March 2026 wall-clock time in Berlin, as UTC (summer time from 29 March)."""
    offset = 2 if day >= 29 else 1
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=offset)


class TestOffHoursContact:
    def test_three_evening_messages_in_a_week(self, monitor, events) -> None:
        messages = [events.message(berlin(day, 20)) for day in (2, 3, 4)]
        assert monitor.feed(*messages[:2]) == []
        alert = monitor.feed(messages[2]).raised("off-hours-contact")
        assert alert.evidence == tuple(m.id for m in messages)
        assert (alert.severity, alert.audience) == ("low", "supervisor")
        assert "outside their working hours within 7 days" in alert.summary

    def test_exactly_seven_days_apart_is_not_within_seven_days(self, monitor, events) -> None:
        start = berlin(2, 20)
        assert monitor.feed(*(events.message(start + d) for d in (timedelta(0), timedelta(days=3), WEEK))) == []

    def test_just_under_seven_days_is(self, monitor, events) -> None:
        start = berlin(2, 20)
        spread = (timedelta(0), timedelta(days=3), WEEK - timedelta(seconds=1))
        assert monitor.feed(*(events.message(start + d) for d in spread)).kinds() == [("Raise", "off-hours-contact")]

    def test_working_hours_start_inclusive_end_exclusive_across_dst(self, monitor, events) -> None:
        in_hours = [berlin(27, 9), berlin(30, 9), berlin(30, 16, 59)]  # Fri CET, Mon CEST
        assert monitor.feed(*(events.message(t) for t in in_hours)) == []
        assert monitor.pair().off_hours_messages == ()
        off_hours = [berlin(27, 17), berlin(30, 17), berlin(31, 8, 59)]
        assert monitor.feed(*(events.message(t) for t in off_hours)).kinds() == [("Raise", "off-hours-contact")]

    def test_weekend_messages_are_off_hours(self, monitor, events) -> None:
        decisions = monitor.feed(*(events.message(berlin(day, 12)) for day in (28, 29)), events.message(berlin(30, 7)))
        assert decisions.kinds() == [("Raise", "off-hours-contact")]

    def test_messages_from_the_client_do_not_count(self, monitor, events) -> None:
        assert monitor.feed(*(events.message(berlin(day, 22), sender="client") for day in (2, 3, 4))) == []

    def test_unknown_working_hours_judge_nothing(self, make_monitor, events) -> None:
        monitor = make_monitor()
        monitor.clinicians.clear()
        assert monitor.feed(*(events.message(berlin(day, 22)) for day in (2, 3, 4))) == []

    def test_stays_open_updates_and_a_person_resolves(self, monitor, events) -> None:
        opened = monitor.feed(*(events.message(berlin(day, 22)) for day in (2, 3, 4))).raised("off-hours-contact")
        fourth = events.message(berlin(5, 22))
        update = monitor.feed(fourth)
        assert update.kinds() == [("Update", "off-hours-contact")]
        assert update[0].added_evidence == (fourth.id,)
        # weeks of in-hours messages never resolve it by rule
        assert monitor.feed(*(events.message(berlin(day, 11)) for day in (16, 17, 18, 19, 20))) == []
        assert monitor.pair().open_alert("off-hours-contact") is not None
        monitor.resolve_by_person(opened.alert_id)
        again = monitor.feed(*(events.message(berlin(day, 22)) for day in (23, 24, 25))).raised("off-hours-contact")
        assert again.alert_id != opened.alert_id


class TestOffPlatformContact:
    def test_each_flagged_message_raises(self, monitor, events) -> None:
        event = events.message(berlin(2, 11), sender="client", flags=["social-media", "payment-request"])
        alert = monitor.feed(event).raised("off-platform-contact")
        assert (alert.severity, alert.audience, alert.category) == ("medium", "compliance", "boundary")
        assert alert.evidence == (event.id,)
        assert "social media, a payment request" in alert.summary
        second = events.message(berlin(2, 12), flags=["off-platform-contact"])
        assert monitor.feed(second).raised("off-platform-contact").alert_id != alert.alert_id

    def test_unflagged_messages_raise_nothing(self, monitor, events) -> None:
        assert monitor.feed(events.message(berlin(2, 11))) == []
