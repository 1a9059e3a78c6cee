"""Held events (real PostgreSQL): a client's held events in arrival order, with the scopes they wait for."""

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


async def test_a_clients_held_events_come_back_in_arrival_order_with_what_they_wait_for(
    monitor_pool: asyncpg.Pool,
) -> None:
    srs, telemetry, other_client = (
        event_of(SrsSubmitted, "c1"),
        event_of(SessionTelemetry, "c1"),
        event_of(SrsSubmitted, "c2"),
    )
    behind = event_of(SrsSubmitted, "c1")
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
        await holds.hold_many(conn, [(behind, ())], hold_seconds=10)  # waits behind the client's earlier ones
        assert await holds.held_clients(conn, ["c1", "c2", "c3"]) == {"c1", "c2"}
        found = await holds.held_of(conn, ["c1"])
        assert [row["event_id"] for row in found] == [srs.id, telemetry.id, behind.id]
        assert {row["client_id"] for row in found} == {"c1"}
        stored = await conn.fetchval("SELECT waiting_for FROM consent_holds WHERE event_id = $1", telemetry.id)
        assert stored == ["alliance-analytics"]
