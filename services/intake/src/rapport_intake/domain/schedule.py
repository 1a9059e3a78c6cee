"""Clinicians' weekly working hours: intervals ``[start, end)`` per weekday, in the clinician's timezone.

Working hours feed the `off-hours-contact` rule downstream, so an ambiguous schedule (two intervals of one
weekday overlapping) is refused at registration instead of being guessed at later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import available_timezones

_TIMEZONES = frozenset(available_timezones())


@dataclass(frozen=True)
class Interval:
    weekday: int
    start: str  # "HH:MM"
    end: str  # "HH:MM", after start; "24:00" closes the day


def is_iana_timezone(name: str) -> bool:
    return name in _TIMEZONES


def first_overlap(intervals: Sequence[Interval]) -> tuple[int, int] | None:
    """Indexes ``(earlier, later)`` of the first pair of same-weekday intervals that overlap, else None.

    "HH:MM" strings compare in time order, and touching intervals (``end == next start``) do not overlap.
    """
    for later, current in enumerate(intervals):
        for earlier in range(later):
            other = intervals[earlier]
            if other.weekday == current.weekday and current.start < other.end and other.start < current.end:
                return earlier, later
    return None
