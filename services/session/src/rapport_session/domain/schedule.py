"""Scheduling rules: late cancellation, no-show due time, overrun marks (DOMAIN.md, issue 5).

All arithmetic is done on absolute time (UTC), never on wall-clock time: a session that spans a daylight
saving change is still exactly 24 hours away when 24 real hours remain. Naive datetimes are refused,
because a guess about their zone would silently move every boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: a cancellation less than this before the scheduled start is late (exactly 24 h is not)
LATE_CANCELLATION_WINDOW = timedelta(hours=24)
#: the client is a no-show when not joined this long after the scheduled start
NO_SHOW_GRACE = timedelta(minutes=15)
#: an overrun is reported this long past the scheduled end, and at every further step
OVERRUN_STEP = timedelta(minutes=15)


def _utc(name: str, value: datetime) -> datetime:
    """The same instant in UTC; a naive value is an error, not a guess."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _positive(name: str, value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"{name} must be positive")
    return value


def _step_minutes(step: timedelta) -> int:
    """``minutes_over`` is an integer on the wire, so the step must be whole minutes."""
    _positive("step", step)
    if step % timedelta(minutes=1):
        raise ValueError("step must be a whole number of minutes")
    return step // timedelta(minutes=1)


def is_late_cancellation(
    scheduled_start: datetime, cancelled_at: datetime, *, late_window: timedelta = LATE_CANCELLATION_WINDOW
) -> bool:
    """True when the cancellation leaves less than ``late_window`` before the start (a withdrawal marker).

    Exactly ``late_window`` ahead is on time. A cancellation at or after the start is late.
    """
    if late_window < timedelta(0):
        raise ValueError("late_window must not be negative")
    lead = _utc("scheduled_start", scheduled_start) - _utc("cancelled_at", cancelled_at)
    return lead < late_window


def no_show_due_at(scheduled_start: datetime, *, grace: timedelta = NO_SHOW_GRACE) -> datetime:
    """When the no-show check fires if the client has not joined, in the start's own timezone."""
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    tz = scheduled_start.tzinfo
    return (_utc("scheduled_start", scheduled_start) + grace).astimezone(tz)


def overrun_marks(
    scheduled_end: datetime,
    now: datetime,
    *,
    step: timedelta = OVERRUN_STEP,
    last_emitted_minutes: int = 0,
) -> tuple[int, ...]:
    """The ``minutes_over`` marks (15, 30, 45, ...) due at ``now`` and not yet emitted, oldest first.

    A mark k * step is due from ``scheduled_end + k * step`` on (inclusive). Passing the last emitted mark
    lets a timer that was down for a while catch up after a restart without repeating itself.
    """
    minutes = _step_minutes(step)
    if last_emitted_minutes < 0:
        raise ValueError("last_emitted_minutes must not be negative")
    over = _utc("now", now) - _utc("scheduled_end", scheduled_end)
    if over < step:
        return ()
    reached = over // step
    first = last_emitted_minutes // minutes + 1
    return tuple(k * minutes for k in range(first, reached + 1))


def next_overrun_at(scheduled_end: datetime, last_emitted_minutes: int, *, step: timedelta = OVERRUN_STEP) -> datetime:
    """When the next overrun mark after ``last_emitted_minutes`` (0: none yet) falls due.

    The answer is in ``scheduled_end``'s timezone; a timer stores it and survives a restart.
    """
    minutes = _step_minutes(step)
    if last_emitted_minutes < 0:
        raise ValueError("last_emitted_minutes must not be negative")
    tz = scheduled_end.tzinfo
    next_mark = (last_emitted_minutes // minutes + 1) * minutes
    return (_utc("scheduled_end", scheduled_end) + timedelta(minutes=next_mark)).astimezone(tz)
