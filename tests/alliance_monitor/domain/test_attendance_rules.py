"""attendance-withdrawal: the two latest relevant outcomes by scheduled start are client withdrawals."""

from __future__ import annotations

from datetime import timedelta

WEEK = timedelta(days=7)


def slot(events, n: int):
    return events.T0 + (n - 1) * WEEK


def test_two_no_shows_raise_with_both_as_evidence(monitor, events) -> None:
    first, second = events.no_show("s1", slot(events, 1)), events.no_show("s2", slot(events, 2))
    assert monitor.feed(first) == []
    alert = monitor.feed(second).raised("attendance-withdrawal")
    assert alert.evidence == (first.id, second.id)
    assert (alert.severity, alert.audience, alert.category) == ("medium", "clinician", "alliance")


def test_late_client_cancellation_counts_as_withdrawal(monitor, events) -> None:
    monitor.feed(events.cancelled("s1", slot(events, 1), by="client", late=True))
    assert monitor.feed(events.no_show("s2", slot(events, 2))).kinds() == [("Raise", "attendance-withdrawal")]


def test_skipped_outcomes_between_withdrawals(monitor, events) -> None:
    monitor.feed(
        events.no_show("s1", slot(events, 1)),
        events.cancelled("s2", slot(events, 2), by="clinician", late=True),
        events.cancelled("s3", slot(events, 3), by="client", late=False),
    )
    assert monitor.feed(events.no_show("s4", slot(events, 4))).kinds() == [("Raise", "attendance-withdrawal")]


def test_attendance_between_withdrawals_breaks_the_pair(monitor, events) -> None:
    monitor.feed(events.no_show("s1", slot(events, 1)), events.started("s2", slot(events, 2)))
    assert monitor.feed(events.no_show("s3", slot(events, 3))) == []


def test_order_is_by_scheduled_start_not_arrival(monitor, events) -> None:
    # s3 attended; the no-shows of s1 and s2 arrive after it: the latest outcome is still attendance
    monitor.feed(events.started("s3", slot(events, 3)))
    assert monitor.feed(events.no_show("s1", slot(events, 1)), events.no_show("s2", slot(events, 2))) == []


def test_update_then_resolve_when_the_client_attends(monitor, events) -> None:
    opened = monitor.feed(events.no_show("s1", slot(events, 1)), events.no_show("s2", slot(events, 2))).raised(
        "attendance-withdrawal"
    )
    third = events.cancelled("s3", slot(events, 3), by="client", late=True)
    update = monitor.feed(third)
    assert update.kinds() == [("Update", "attendance-withdrawal")]
    assert update[0].added_evidence == (third.id,)
    cleared = monitor.feed(events.started("s4", slot(events, 4)))
    assert cleared.kinds() == [("Resolve", "attendance-withdrawal")]
    assert cleared[0].alert_id == opened.alert_id


def test_a_later_outcome_of_the_same_session_replaces_the_earlier(monitor, events) -> None:
    monitor.feed(events.no_show("s1", slot(events, 1)))
    monitor.feed(events.cancelled("s2", slot(events, 2), by="client", late=True))
    # the clinician then cancels s2 as well: s2 becomes neutral, nothing new
    assert [o.kind for o in monitor.pair().attendance] == ["withdrawal", "withdrawal"]
    monitor.feed(events.cancelled("s2", slot(events, 2), by="clinician", late=True))
    assert [o.kind for o in monitor.pair().attendance] == ["withdrawal", "neutral"]
