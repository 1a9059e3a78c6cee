"""Scheduling rules through the API: late cancellation at exactly 24 h, reschedule, automatic no-show."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rapport_common.clock import ManualClock
from rapport_common.events.session import SessionCancelled, SessionNoShow, SessionScheduled


@pytest.mark.parametrize(
    ("lead", "late"),
    [
        (timedelta(hours=24), False),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(hours=24) - timedelta(seconds=1), True),
        (timedelta(hours=2), True),
    ],
)
async def test_cancellation_is_late_under_24_hours_before_start(svc: Any, lead: timedelta, late: bool) -> None:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician, start_in=timedelta(days=5))
    start = svc.clock.now() + timedelta(days=5)
    svc.clock.set(start - lead)
    response = await svc.http.post(f"/sessions/{booked['session_id']}/cancel", headers=svc.as_client(client))
    assert response.status_code == 200, response.text
    assert response.json()["late"] is late
    events = await svc.events.wait_for(client, 2)
    assert svc.types(events) == ["session.scheduled", "session.cancelled"]
    cancelled = events[1]
    assert isinstance(cancelled, SessionCancelled)
    assert cancelled.data.late is late and cancelled.data.cancelled_by == "client"
    assert cancelled.data.cancelled_at == start - lead


async def test_clinician_cancellation_is_recorded_as_clinician(svc: Any) -> None:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician)
    response = await svc.http.post(f"/sessions/{booked['session_id']}/cancel", headers=svc.as_clinician(clinician))
    assert response.json()["cancelled_by"] == "clinician"
    events = await svc.events.wait_for(client, 2)
    assert events[1].data.cancelled_by == "clinician" and events[1].data.late is False
    again = await svc.http.post(f"/sessions/{booked['session_id']}/cancel", headers=svc.as_clinician(clinician))
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


async def test_reschedule_emits_scheduled_again_with_the_new_times(svc: Any) -> None:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician, start_in=timedelta(days=2))
    new_start = svc.clock.now() + timedelta(days=4)
    response = await svc.http.post(
        f"/sessions/{booked['session_id']}/reschedule",
        json={
            "scheduled_start": new_start.isoformat(),
            "scheduled_end": (new_start + timedelta(minutes=45)).isoformat(),
        },
        headers=svc.as_client(client),
    )
    assert response.status_code == 200, response.text
    events = await svc.events.wait_for(client, 2)
    assert svc.types(events) == ["session.scheduled", "session.scheduled"]
    assert isinstance(events[1], SessionScheduled)
    assert events[1].data.session_id == booked["session_id"] and events[1].data.scheduled_start == new_start
    # the no-show timer moved with the session: nothing fires at the old start + 15 min
    svc.clock.advance(timedelta(days=2, minutes=16))
    await _timer_tick(svc)
    assert svc.types(svc.events.by_subject[client]) == ["session.scheduled", "session.scheduled"]


async def _timer_tick(svc: Any) -> None:
    """Wait for several polls of the timer job (0.1 s each) plus the outbox relay."""
    await asyncio.sleep(0.6)


async def test_no_show_fires_15_minutes_after_start_when_the_client_has_not_joined(svc: Any) -> None:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician, start_in=timedelta(hours=3))
    start = svc.clock.now() + timedelta(hours=3)
    svc.clock.set(start + timedelta(minutes=15) - timedelta(seconds=1))
    await _timer_tick(svc)
    assert svc.types(svc.events.by_subject[client]) == ["session.scheduled"]
    svc.clock.set(start + timedelta(minutes=15))
    events = await svc.events.wait_for(client, 2)
    assert svc.types(events) == ["session.scheduled", "session.no-show"]
    assert isinstance(events[1], SessionNoShow) and events[1].data.scheduled_start == start
    assert events[1].time == start + timedelta(minutes=15)
    view = await svc.http.get(f"/sessions/{booked['session_id']}", headers=svc.as_clinician(clinician))
    assert view.json()["status"] == "no-show"
    late_start = await svc.http.post(f"/sessions/{booked['session_id']}/start", headers=svc.as_clinician(clinician))
    assert late_start.status_code == 409
    svc.clock.advance(timedelta(hours=1))
    await _timer_tick(svc)
    assert len(svc.events.by_subject[client]) == 2  # fired once


async def test_no_no_show_when_the_client_joined(svc: Any) -> None:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician, start_in=timedelta(hours=3))
    svc.clock.advance(timedelta(hours=3, minutes=5))
    assert (
        await svc.http.post(f"/sessions/{booked['session_id']}/join", headers=svc.as_client(client))
    ).status_code == 200
    svc.clock.advance(timedelta(minutes=20))
    await _timer_tick(svc)
    events = await svc.events.wait_for(client, 2)
    assert svc.types(events) == ["session.scheduled", "session.participant-joined"]


async def test_no_show_minutes_are_configurable(make_service: Any) -> None:
    async with make_service(None, ManualClock(datetime(2031, 3, 3, 9, 0, tzinfo=UTC)), no_show_after_min=5) as svc:
        client, clinician = await svc.pair()
        await svc.schedule(client, clinician, start_in=timedelta(hours=1))
        svc.clock.advance(timedelta(hours=1, minutes=5))
        events = await svc.events.wait_for(client, 2)
        assert svc.types(events) == ["session.scheduled", "session.no-show"]


async def test_idempotency_keys_are_scoped_to_the_caller(svc: Any) -> None:
    """Two clinicians who happen to send the same Idempotency-Key book their own sessions: neither is refused
    as a reuse nor handed the other's stored response (regression: the key was scoped to the action only)."""
    start = (svc.clock.now() + timedelta(days=3)).isoformat()
    end = (svc.clock.now() + timedelta(days=3, minutes=50)).isoformat()
    booked = []
    for _ in range(2):
        client, clinician = await svc.pair()
        body = {"client_id": client, "scheduled_start": start, "scheduled_end": end, "modality": "video"}
        headers = {**svc.as_clinician(clinician), "Idempotency-Key": "same-key-by-chance"}
        response = await svc.http.post("/sessions", json=body, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["client_id"] == client
        again = await svc.http.post("/sessions", json=body, headers=headers)  # a real retry is still a replay
        assert (again.status_code, again.json()) == (201, response.json())
        booked.append(response.json()["session_id"])
    assert booked[0] != booked[1]
