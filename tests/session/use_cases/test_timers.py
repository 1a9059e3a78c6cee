"""The timer use case without the worker: no-show and overrun decisions at the manual clock's now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rapport_common.auth import Principal
from rapport_session.use_cases import sessions
from rapport_session.use_cases.timers import fire_due_timers


async def _fire(world: Any, limit: int = 100) -> int:
    step = timedelta(minutes=world.settings.overrun_step_min)
    async with world.transactions.begin() as uow:
        return await fire_due_timers(uow, overrun_step=step, limit=limit)


async def _status(world: Any, sid: str) -> str:
    return str(await world.pool.fetchval("SELECT status FROM sessions WHERE session_id = $1", sid))


async def test_a_scheduled_session_nobody_joined_becomes_a_no_show_once(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    sid = await world.book(client_id, clinician_id)
    start = await world.pool.fetchval("SELECT scheduled_start FROM sessions WHERE session_id = $1", sid)
    world.clock.set(start + timedelta(minutes=15) - timedelta(seconds=1))
    assert await _fire(world) == 0
    world.clock.set(start + timedelta(minutes=15))
    assert await _fire(world) == 1
    assert await _status(world, sid) == "no-show"
    assert await world.event_types(client_id) == ["session.scheduled", "session.no-show"]
    world.clock.advance(timedelta(hours=1))
    assert await _fire(world) == 0  # the timer is gone: fired once


async def test_a_running_session_the_client_missed_stays_open_for_the_clinician(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    sid = await world.book(client_id, clinician_id)
    clinician = Principal(clinician_id, "clinician")
    world.clock.advance(timedelta(days=2))
    await sessions.start_session(
        world.transactions,
        principal=clinician,
        session_id=sid,
        consent=world.consents(client_id),
        settings=world.settings,
    )
    world.clock.advance(timedelta(minutes=15))
    assert await _fire(world) == 1
    row = await world.pool.fetchrow("SELECT status, no_show_at FROM sessions WHERE session_id = $1", sid)
    assert row["status"] == "running" and row["no_show_at"] == world.clock.now()
    assert (await world.event_types(client_id))[-1] == "session.no-show"


async def test_a_client_who_joined_is_no_no_show(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    sid = await world.book(client_id, clinician_id)
    world.clock.advance(timedelta(days=2, minutes=5))
    async with world.transactions.begin() as uow:
        await sessions.join_session(uow, principal=Principal(client_id, "client"), session_id=sid, participant=None)
    world.clock.advance(timedelta(minutes=20))
    assert await _fire(world) == 1  # claimed and cleared, nothing reported
    assert await _status(world, sid) == "scheduled"
    assert await world.event_types(client_id) == ["session.scheduled", "session.participant-joined"]


async def test_overrun_marks_missed_meanwhile_are_each_reported_once_and_stop_at_the_end(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    sid = await world.book(client_id, clinician_id)
    clinician = Principal(clinician_id, "clinician")
    world.clock.advance(timedelta(days=2))
    async with world.transactions.begin() as uow:
        await sessions.join_session(uow, principal=Principal(client_id, "client"), session_id=sid, participant=None)
    view = await sessions.start_session(
        world.transactions,
        principal=clinician,
        session_id=sid,
        consent=world.consents(client_id),
        settings=world.settings,
    )
    world.clock.set(view.scheduled_end + timedelta(minutes=47))
    await _fire(world)  # the no-show check (client joined) and the overrun timer
    overruns = await world.pool.fetch(
        "SELECT value FROM outbox WHERE event_type = 'rapport.session.overrun' AND key = $1 ORDER BY id",
        client_id.encode(),
    )
    assert len(overruns) == 3  # 15, 30 and 45 minutes over
    assert await _fire(world) == 0  # re-armed for +60, not due yet
    async with world.transactions.begin() as uow:
        await sessions.end_session(uow, principal=clinician, session_id=sid)
    world.clock.advance(timedelta(hours=2))
    assert await _fire(world) == 0
    assert (await world.event_types(client_id))[-1] == "session.ended"
