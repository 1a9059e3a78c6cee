"""State: JSON round trips, session numbers by event time, bounded and deduplicated history, working hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rapport_alliance_monitor.domain import MonitorState, decide, evaluate
from rapport_alliance_monitor.domain.records import (
    RECENT_EVENT_LIMIT,
    SESSION_START_LIMIT,
    SRS_LIMIT,
    ScaleScore,
    SessionStart,
)
from rapport_alliance_monitor.domain.state import ClientState, ClinicianState, PairState, WorkingInterval

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def start(session_id: str, days: float) -> SessionStart:
    return SessionStart(session_id=session_id, event_id=f"e-{session_id}", at=T0 + timedelta(days=days))


def test_states_round_trip_through_json(monitor, events) -> None:
    monitor.feed(
        events.intake(20.0),
        events.started("s1", T0),
        events.srs(35.0, session_id="s1", at=T0 + timedelta(minutes=50)),
        events.telemetry("s1", T0 + timedelta(minutes=5), camera=0.2),
        events.ended("s1", T0, minutes_over=12),
        events.message(T0 - timedelta(hours=3)),
    )
    pair, client = monitor.pair(), monitor.client()
    assert PairState.from_json(pair.to_json()) == pair
    assert ClientState.from_json(client.to_json()) == client
    assert json.loads(pair.to_json())["schema_version"] == 1
    assert pair.srs and pair.telemetry and pair.ended and pair.off_hours_messages and pair.session_starts
    assert client.baseline is not None and client.baseline.total_tenths == 200
    assert client.consents.records


def test_unknown_fields_in_a_stored_row_are_ignored() -> None:
    row = json.loads(PairState(client_id="c", clinician_id="k").to_json())
    row["written_by_a_newer_version"] = [1, 2, 3]
    assert PairState.from_json(json.dumps(row)) == PairState(client_id="c", clinician_id="k")


def test_session_number_counts_starts_in_event_time_order_not_arrival() -> None:
    pair = PairState(client_id="c", clinician_id="k")
    for session_id, days in (("s3", 14), ("s1", 0), ("s2", 7)):
        pair = pair.with_session_start(start(session_id, days))
    assert [pair.session_number(s, T0) for s in ("s1", "s2", "s3")] == [1, 2, 3]


def test_session_number_of_a_session_whose_start_is_not_seen_yet() -> None:
    pair = PairState(client_id="c", clinician_id="k").with_session_start(start("s1", 0))
    assert pair.session_number("s2", T0 + timedelta(days=7)) == 2
    assert pair.session_number(None, T0 + timedelta(days=7)) == 2


def test_session_starts_keep_the_earliest_and_number_later_ones_beyond() -> None:
    pair = PairState(client_id="c", clinician_id="k")
    for n in range(SESSION_START_LIMIT + 5):
        pair = pair.with_session_start(start(f"s{n}", n))
    assert len(pair.session_starts) == SESSION_START_LIMIT
    assert pair.session_number("s0", T0) == 1
    assert pair.session_number(f"s{SESSION_START_LIMIT + 3}", T0 + timedelta(days=99)) == SESSION_START_LIMIT + 1


def test_the_same_start_twice_counts_once() -> None:
    pair = PairState(client_id="c", clinician_id="k").with_session_start(start("s1", 0))
    assert pair.with_session_start(start("s1", 0)) == pair


def test_srs_history_is_bounded_ordered_and_deduplicated() -> None:
    pair = PairState(client_id="c", clinician_id="k")
    scores = [
        ScaleScore(event_id=f"e{n}", session_id=None, at=T0 + timedelta(days=n), total_tenths=n) for n in range(15)
    ]
    for score in reversed(scores):
        pair = pair.with_srs(score)
    pair = pair.with_srs(scores[-1])
    assert [s.event_id for s in pair.srs] == [f"e{n}" for n in range(15 - SRS_LIMIT, 15)]


def test_recent_event_ids_are_bounded() -> None:
    pair = PairState(client_id="c", clinician_id="k")
    for n in range(RECENT_EVENT_LIMIT + 10):
        pair = pair.remembering(f"e{n}")
    assert len(pair.recent_event_ids) == RECENT_EVENT_LIMIT
    assert pair.has_seen(f"e{RECENT_EVENT_LIMIT + 9}") and not pair.has_seen("e0")


def test_unchanged_parts_keep_their_identity(monitor, events) -> None:
    state = monitor.load(events.srs(38.0, session_id="s1", at=T0))
    event = events.srs(38.0, session_id="s1", at=T0)
    result = evaluate(state, event, monitor.config, consent_decision=decide(state.client, event, hold_expired=True))
    assert isinstance(result.new_state, MonitorState)
    assert result.new_state.client is state.client
    assert result.new_state.clinician is state.clinician
    assert result.new_state.pair is not state.pair


class TestWorkingHours:
    """Berlin switches to summer time on Sunday 29 March 2026 (UTC+1 -> UTC+2)."""

    clinician = ClinicianState(
        clinician_id="k",
        timezone="Europe/Berlin",
        working_hours=tuple(WorkingInterval(weekday=d, start="09:00", end="17:00") for d in range(5)),
        registered_at=T0,
    )

    def test_start_inclusive_end_exclusive_before_the_change(self) -> None:
        friday = datetime(2026, 3, 27, tzinfo=UTC)
        assert self.clinician.works_at(friday.replace(hour=8))  # 09:00 CET
        assert not self.clinician.works_at(friday.replace(hour=7, minute=59, second=59))
        assert self.clinician.works_at(friday.replace(hour=15, minute=59, second=59))
        assert not self.clinician.works_at(friday.replace(hour=16))  # 17:00 CET

    def test_start_inclusive_end_exclusive_after_the_change(self) -> None:
        monday = datetime(2026, 3, 30, tzinfo=UTC)
        assert self.clinician.works_at(monday.replace(hour=7))  # 09:00 CEST
        assert not self.clinician.works_at(monday.replace(hour=6, minute=59))
        assert self.clinician.works_at(monday.replace(hour=14, minute=59))
        assert not self.clinician.works_at(monday.replace(hour=15))  # 17:00 CEST

    def test_weekends_and_unlisted_days_are_off_hours(self) -> None:
        saturday_noon_berlin = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)
        assert not self.clinician.works_at(saturday_noon_berlin)

    def test_weekday_is_the_local_one(self) -> None:
        # Sunday 23:30 UTC is Monday 01:30 in Berlin: a Monday, but outside the hours
        late_sunday_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
        night_owl = self.clinician.model_copy(
            update={"working_hours": (WorkingInterval(weekday=0, start="00:00", end="02:00"),)}
        )
        assert night_owl.works_at(late_sunday_utc)

    def test_an_interval_may_end_at_midnight(self) -> None:
        evening = self.clinician.model_copy(
            update={"working_hours": (WorkingInterval(weekday=0, start="18:00", end="24:00"),)}
        )
        assert evening.works_at(datetime(2026, 3, 2, 22, 59, 59, tzinfo=UTC))  # 23:59:59 CET Monday
        assert not evening.works_at(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # 00:00 Tuesday
