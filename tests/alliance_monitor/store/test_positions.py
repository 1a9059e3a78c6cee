"""Consumed positions stored with the state (real PostgreSQL): redelivery skipped, rollback keeps nothing,
two claimers of one partition take turns, consumer groups are independent."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import asyncpg

from rapport_alliance_monitor.store import positions
from rapport_common.kafka.consumer import ConsumedEvent


def records(topic: str, partition: int, offsets: range) -> list[ConsumedEvent]:
    return [ConsumedEvent(SimpleNamespace(id=f"{topic}-{partition}-{o}"), topic, partition, o) for o in offsets]


async def claim(pool: asyncpg.Pool, group: str, batch: list[ConsumedEvent]) -> list[int]:
    async with pool.acquire() as conn, conn.transaction():
        return [c.offset for c in await positions.claim(conn, group, batch)]


async def test_a_redelivered_batch_is_skipped_and_an_overlapping_one_keeps_only_the_new_records(
    monitor_pool: asyncpg.Pool,
) -> None:
    batch = records("a", 0, range(0, 5)) + records("b", 2, range(10, 12))
    assert await claim(monitor_pool, "g", batch) == [0, 1, 2, 3, 4, 10, 11]
    assert await claim(monitor_pool, "g", batch) == []
    assert await claim(monitor_pool, "g", records("a", 0, range(3, 8))) == [5, 6, 7]
    assert await positions.positions(monitor_pool, "g") == {("a", 0): 8, ("b", 2): 12}


async def test_positions_move_only_with_the_transaction_that_stores_the_effects(monitor_pool: asyncpg.Pool) -> None:
    class Crash(Exception):
        pass

    try:
        async with monitor_pool.acquire() as conn, conn.transaction():
            assert len(await positions.claim(conn, "g", records("a", 1, range(5)))) == 5
            raise Crash
    except Crash:
        pass
    assert await positions.positions(monitor_pool, "g") in ({}, {("a", 1): 0})
    assert await claim(monitor_pool, "g", records("a", 1, range(5))) == [0, 1, 2, 3, 4]


async def test_two_claimers_of_one_partition_take_turns(monitor_pool: asyncpg.Pool) -> None:
    """During a rebalance the old and the new owner may both hold a batch: the second waits, then skips."""
    batch = records("a", 0, range(0, 4))
    async with monitor_pool.acquire() as first:
        tx = first.transaction()
        await tx.start()
        assert len(await positions.claim(first, "g", batch)) == 4
        second = asyncio.create_task(claim(monitor_pool, "g", batch + records("a", 0, range(4, 6))))
        await asyncio.sleep(0.3)
        assert not second.done(), "the second claimer did not wait for the first one's transaction"
        await tx.commit()
    assert await second == [4, 5]


async def test_consumer_groups_are_independent(monitor_pool: asyncpg.Pool) -> None:
    batch = records("a", 0, range(3))
    assert await claim(monitor_pool, "live", batch) == [0, 1, 2]
    assert await claim(monitor_pool, "replay", batch) == [0, 1, 2]  # a replay group starts from nothing
