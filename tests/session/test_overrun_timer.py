"""The overrun timer: reports at scheduled_end + 15 and every further 15 minutes, and survives a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from rapport_common.clock import ManualClock
from rapport_common.events.session import SessionOverrun


async def test_overrun_reports_every_15_minutes_and_survives_a_restart(
    make_service: Any, session_db_factory: Any
) -> None:
    database = await session_db_factory()
    clock = ManualClock(datetime(2031, 5, 5, 8, 0, tzinfo=UTC))
    async with make_service(database, clock) as first:
        client, clinician = await first.pair()
        booked = await first.schedule(client, clinician, start_in=timedelta(hours=1), minutes=50)
        end = datetime.fromisoformat(booked["scheduled_end"])
        clock.advance(timedelta(hours=1))
        joined = await first.http.post(f"/sessions/{booked['session_id']}/join", headers=first.as_client(client))
        assert joined.status_code == 200
        started = await first.http.post(
            f"/sessions/{booked['session_id']}/start", headers=first.as_clinician(clinician)
        )
        assert started.status_code == 200
        assert first.types(await first.events.wait_for(client, 3)) == [
            "session.scheduled",
            "session.participant-joined",
            "session.started",
        ]
        clock.set(end + timedelta(minutes=15) - timedelta(seconds=1))
        await asyncio.sleep(0.5)
        assert len(first.events.by_subject[client]) == 3
        clock.set(end + timedelta(minutes=15))
        events = await first.events.wait_for(client, 4)
        assert events[3].data.minutes_over == 15
    # the service is down while the session runs on past two more marks
    clock.set(end + timedelta(minutes=47))
    async with make_service(database, clock) as second:
        events = await second.events.wait_for(client, 6)
        overruns = [e for e in events if isinstance(e, SessionOverrun)]
        assert [o.data.minutes_over for o in overruns] == [15, 30, 45]
        assert [o.time for o in overruns] == [end + timedelta(minutes=m) for m in (15, 30, 45)]
        assert all(o.data.scheduled_end == end for o in overruns)
        clock.set(end + timedelta(minutes=60))
        events = await second.events.wait_for(client, 7)
        assert events[6].data.minutes_over == 60
        ended = await second.http.post(f"/sessions/{booked['session_id']}/end", headers=second.as_clinician(clinician))
        assert ended.status_code == 200
        clock.set(end + timedelta(minutes=120))
        events = await second.events.wait_for(client, 8)
        assert second.types(events)[-1] == "session.ended"
        assert len([e for e in events if isinstance(e, SessionOverrun)]) == 4  # nothing after the end
