"""Held events and the scopes they wait for (real PostgreSQL): a grant re-decides only what waits for it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from rapport_alliance_monitor.store import holds
from rapport_common.events.examples import example_event
from rapport_common.events.feedback import SrsSubmitted
from rapport_common.events.session import SessionTelemetry


def event_of(cls: type[Any], client_id: str) -> Any:
    template = example_event(cls, subject=client_id)
    data = template.data.model_copy(update={"client_id": client_id})
    return template.model_copy(update={"id": str(uuid.uuid4()), "data": data})


async def test_a_grant_finds_the_held_events_waiting_for_its_scope_and_legacy_rows(monitor_pool: asyncpg.Pool) -> None:
    srs, telemetry, other_client = (
        event_of(SrsSubmitted, "c1"),
        event_of(SessionTelemetry, "c1"),
        event_of(SrsSubmitted, "c2"),
    )
    legacy = event_of(SrsSubmitted, "c1")
    async with monitor_pool.acquire() as conn, conn.transaction():
        await holds.hold_many(
            conn,
            [
                (srs, ("measurement-feedback",)),
                (telemetry, ("alliance-analytics",)),
                (other_client, ("measurement-feedback",)),
            ],
            hold_seconds=10,
        )
        await holds.hold_many(conn, [(legacy, ())], hold_seconds=10)
        await conn.execute("UPDATE consent_holds SET waiting_for = NULL WHERE event_id = $1", legacy.id)
        found = await holds.waiting_for_grants(conn, {"c1": {"measurement-feedback"}})
        assert [row["event_id"] for row in found] == [srs.id, legacy.id]
        found = await holds.waiting_for_grants(conn, {"c1": {"alliance-analytics", "measurement-feedback"}})
        assert [row["event_id"] for row in found] == [srs.id, telemetry.id, legacy.id]
        assert [row["event_id"] for row in await holds.waiting_for_grants(conn, {"c1": {"session-recording"}})] == [
            legacy.id
        ]
        stored = await conn.fetchval("SELECT waiting_for FROM consent_holds WHERE event_id = $1", telemetry.id)
        assert stored == ["alliance-analytics"]
