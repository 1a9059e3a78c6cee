"""Partition catch-up marks (real PostgreSQL): they never move back, count only once every partition has
one, and bound which ended holds may be decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from rapport_alliance_monitor.store import holds, progress
from rapport_common.events.examples import example_event
from rapport_common.events.feedback import PulseSubmitted

T = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def test_the_group_is_caught_up_since_its_oldest_mark_once_every_partition_has_one(
    monitor_pool: asyncpg.Pool,
) -> None:
    topics = ["consent.events", "session.events"]
    await progress.record(monitor_pool, "g", {("consent.events", 0): T.timestamp(), ("session.events", 0): 0.0})
    assert await progress.all_caught_up_since(monitor_pool, "g", topics, partitions=3) is None  # one not marked
    await progress.record(monitor_pool, "g", {("session.events", 1): (T + timedelta(seconds=5)).timestamp()})
    assert await progress.all_caught_up_since(monitor_pool, "g", topics, partitions=3) == datetime.fromtimestamp(0, UTC)
    # marks only move forward (an instance with an older view cannot pull one back)
    await progress.record(monitor_pool, "g", {("session.events", 0): (T + timedelta(seconds=9)).timestamp()})
    await progress.record(monitor_pool, "g", {("session.events", 0): 1.0})
    assert await progress.all_caught_up_since(monitor_pool, "g", topics, partitions=3) == T
    # another group's marks and other topics' marks do not count
    assert await progress.all_caught_up_since(monitor_pool, "other", topics, partitions=3) is None
    assert await progress.all_caught_up_since(monitor_pool, "g", ["consent.events"], partitions=1) == T


async def test_an_ended_hold_is_due_only_up_to_the_moment_every_partition_was_caught_up(
    monitor_pool: asyncpg.Pool,
) -> None:
    event = example_event(PulseSubmitted, subject="c1")
    async with monitor_pool.acquire() as conn, conn.transaction():
        await holds.hold_many(conn, [(event, ("measurement-feedback",))], hold_seconds=0)
        ended = await conn.fetchval("SELECT expires_at FROM consent_holds WHERE event_id = $1", event.id)
        client = event.data.client_id
        assert await holds.due_clients(conn, limit=10) == [client]  # no bound: ended is due
        assert await holds.due_clients(conn, limit=10, until=ended - timedelta(milliseconds=1)) == []
        assert await holds.due_for(conn, [client], until=ended - timedelta(milliseconds=1)) == []
        assert await holds.due_clients(conn, limit=10, until=ended) == [client]
        assert [row["event_id"] for row in await holds.due_for(conn, [client], until=ended)] == [event.id]
