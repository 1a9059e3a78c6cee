"""Scheduling rules at their boundaries: 24 h late window, 15 min no-show grace, 15 min overrun marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from rapport_session.domain.schedule import (
    is_late_cancellation,
    next_overrun_at,
    no_show_due_at,
    overrun_marks,
)

START = datetime(2026, 5, 14, 16, 0, tzinfo=UTC)
END = START + timedelta(minutes=50)
NEW_YORK = ZoneInfo("America/New_York")
NAIVE = datetime(2026, 5, 14, 16, 0)


@pytest.mark.parametrize(
    ("before_start", "late"),
    [
        (timedelta(hours=48), False),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(hours=24), False),  # exactly 24 h is on time
        (timedelta(hours=24) - timedelta(microseconds=1), True),
        (timedelta(hours=23, minutes=59), True),
        (timedelta(minutes=5), True),
        (timedelta(0), True),  # at the start
        (-timedelta(minutes=10), True),  # after the start
    ],
)
def test_late_cancellation_boundary(before_start: timedelta, late: bool) -> None:
    assert is_late_cancellation(START, START - before_start) is late


def test_late_window_is_configurable() -> None:
    assert is_late_cancellation(START, START - timedelta(hours=30), late_window=timedelta(hours=48)) is True
    assert is_late_cancellation(START, START - timedelta(hours=48), late_window=timedelta(hours=48)) is False
    assert is_late_cancellation(START, START, late_window=timedelta(0)) is False


def test_late_cancellation_compares_instants_across_zones() -> None:
    cancelled = (START - timedelta(hours=24)).astimezone(timezone(timedelta(hours=-7)))
    assert is_late_cancellation(START, cancelled) is False
    assert is_late_cancellation(START, cancelled + timedelta(seconds=1)) is True


def test_late_cancellation_counts_real_hours_over_a_dst_change() -> None:
    # New York springs forward on 2026-03-08: noon to noon across it is 23 real hours, not 24.
    start = datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK)
    cancelled = datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)
    assert start - cancelled == timedelta(hours=24)  # wall-clock arithmetic would say on time
    assert is_late_cancellation(start, cancelled) is True
    assert is_late_cancellation(start, datetime(2026, 3, 7, 11, 0, tzinfo=NEW_YORK)) is False


def test_no_show_due_fifteen_minutes_after_start() -> None:
    assert no_show_due_at(START) == START + timedelta(minutes=15)
    assert no_show_due_at(START, grace=timedelta(minutes=5)) == START + timedelta(minutes=5)


def test_no_show_due_keeps_the_start_zone_and_real_time() -> None:
    # 15 real minutes after 01:50 EST on the spring-forward night is 03:05 EDT.
    start = datetime(2026, 3, 8, 1, 50, tzinfo=NEW_YORK)  # EST, 06:50 UTC
    due = no_show_due_at(start)
    assert due.tzinfo is NEW_YORK
    assert due.astimezone(UTC) == datetime(2026, 3, 8, 7, 5, tzinfo=UTC)
    assert (due.hour, due.minute) == (3, 5)  # 02:05 does not exist that night


@pytest.mark.parametrize(
    ("after_end", "marks"),
    [
        (-timedelta(minutes=5), ()),
        (timedelta(0), ()),
        (timedelta(minutes=14, seconds=59), ()),
        (timedelta(minutes=15), (15,)),  # first mark exactly at end + 15 min
        (timedelta(minutes=29, seconds=59), (15,)),
        (timedelta(minutes=30), (15, 30)),
        (timedelta(minutes=61), (15, 30, 45, 60)),
    ],
)
def test_overrun_marks_due(after_end: timedelta, marks: tuple[int, ...]) -> None:
    assert overrun_marks(END, END + after_end) == marks


def test_overrun_marks_skip_what_was_emitted() -> None:
    now = END + timedelta(minutes=47)
    assert overrun_marks(END, now, last_emitted_minutes=15) == (30, 45)
    assert overrun_marks(END, now, last_emitted_minutes=45) == ()
    assert overrun_marks(END, now, last_emitted_minutes=60) == ()


def test_overrun_marks_custom_step() -> None:
    assert overrun_marks(END, END + timedelta(minutes=25), step=timedelta(minutes=10)) == (10, 20)


def test_next_overrun_at_follows_the_last_mark() -> None:
    assert next_overrun_at(END, 0) == END + timedelta(minutes=15)
    assert next_overrun_at(END, 15) == END + timedelta(minutes=30)
    assert next_overrun_at(END, 45) == END + timedelta(minutes=60)
    assert next_overrun_at(END, 20) == END + timedelta(minutes=30)  # off-step value: the next whole mark


def test_next_overrun_at_agrees_with_overrun_marks() -> None:
    last = 0
    for _ in range(4):
        due = next_overrun_at(END, last)
        assert overrun_marks(END, due - timedelta(microseconds=1), last_emitted_minutes=last) == ()
        (mark,) = overrun_marks(END, due, last_emitted_minutes=last)
        last = mark
    assert last == 60


def test_next_overrun_at_keeps_the_end_zone() -> None:
    end = datetime(2026, 5, 14, 12, 50, tzinfo=NEW_YORK)
    due = next_overrun_at(end, 0)
    assert due.tzinfo is NEW_YORK
    assert due == end + timedelta(minutes=15)


@pytest.mark.parametrize(
    "call",
    [
        lambda: is_late_cancellation(NAIVE, START),
        lambda: is_late_cancellation(START, NAIVE),
        lambda: no_show_due_at(NAIVE),
        lambda: overrun_marks(NAIVE, START),
        lambda: overrun_marks(START, NAIVE),
        lambda: next_overrun_at(NAIVE, 0),
    ],
    ids=["late-start", "late-cancelled", "no-show", "marks-end", "marks-now", "next"],
)
def test_naive_datetimes_are_refused(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    "call",
    [
        lambda: is_late_cancellation(START, START, late_window=-timedelta(seconds=1)),
        lambda: no_show_due_at(START, grace=-timedelta(minutes=1)),
        lambda: overrun_marks(END, END, step=timedelta(0)),
        lambda: overrun_marks(END, END, step=timedelta(seconds=90)),
        lambda: overrun_marks(END, END, last_emitted_minutes=-15),
        lambda: next_overrun_at(END, -1),
        lambda: next_overrun_at(END, 0, step=-timedelta(minutes=15)),
    ],
    ids=["late-window", "grace", "zero-step", "fractional-step", "negative-marks", "negative-last", "negative-step"],
)
def test_bad_parameters_are_refused(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]
