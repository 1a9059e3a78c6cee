"""The small facts the monitor keeps per pair, and how a bounded, ordered list of them takes a new one.

State is stored as JSON (a jsonb column), so every record is a frozen pydantic model and collections are
tuples: copy-on-write, nothing is mutated in place. Each list is bounded to what the rules need.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict

#: the first session starts kept exactly (session numbers beyond them only need to be "later")
SESSION_START_LIMIT = 12
SRS_LIMIT = 10
ORS_LIMIT = 10
ATTENDANCE_LIMIT = 10
ENDED_LIMIT = 10
OFF_HOURS_LIMIT = 50
TELEMETRY_LIMIT = 240
RECENT_EVENT_LIMIT = 128
SESSION_ALERT_LIMIT = 32
EVIDENCE_LIMIT = 50


class StateModel(BaseModel):
    """Frozen, JSON round-trippable; unknown fields are ignored so older code reads newer rows."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        return cls.model_validate_json(text)


class ScaleScore(StateModel):
    """One SRS or ORS response: its total in exact tenths (39.4 -> 394)."""

    event_id: str
    session_id: str | None
    at: datetime
    total_tenths: int


class SessionStart(StateModel):
    session_id: str
    event_id: str
    at: datetime


AttendanceKind = Literal["attended", "withdrawal", "neutral"]


class AttendanceOutcome(StateModel):
    """How a scheduled session turned out for the client; ``neutral`` outcomes are skipped by the rule."""

    session_id: str
    event_id: str
    scheduled_start: datetime
    kind: AttendanceKind


class EndedSession(StateModel):
    session_id: str
    event_id: str
    ended_at: datetime
    #: seconds past ``scheduled_end`` (negative when it ended early)
    over_s: float


class MessageStamp(StateModel):
    """A clinician-sent message outside the clinician's working hours."""

    event_id: str
    at: datetime


class TelemetryWindow(StateModel):
    event_id: str
    session_id: str
    window_start: datetime
    window_end: datetime
    talk_ratio: float
    camera_on_ratio: float
    longest_silence_s: float


class OpenAlert(StateModel):
    """An open condition alert: at most one per rule (and scope) per pair."""

    alert_id: str
    rule: str
    scope: str | None = None
    evidence: tuple[str, ...] = ()


class SessionAlert(StateModel):
    """A per-session rule that already raised for this session."""

    rule: str
    session_id: str


E = TypeVar("E", bound=StateModel)


def bounded_insert(
    entries: tuple[E, ...],
    entry: E,
    *,
    order: Callable[[E], Any],
    same: Callable[[E], Hashable],
    limit: int,
    keep: Literal["latest", "earliest"] = "latest",
) -> tuple[E, ...]:
    """``entries`` with ``entry`` in its ``order`` place, replacing any entry ``same`` as it, cut to ``limit``.

    Replacing by key makes a redelivered event land on itself, so recording it twice changes nothing.
    """
    key = same(entry)
    merged = sorted((*(e for e in entries if same(e) != key), entry), key=order)
    return tuple(merged[-limit:]) if keep == "latest" else tuple(merged[:limit])
