"""Consumed positions stored with the state: the monitor's idempotent-consumer record, one row per partition.

A batch's transaction locks its partitions' rows, drops the records below the stored ``next_offset`` (their
effects are committed already: a redelivery after a crash or a rebalance) and moves the positions past the
batch. Two instances handed the same partition during a rebalance take turns on the row lock, and the
second one skips what the first committed. A replay under another consumer group starts from nothing; the
domain is idempotent by event id for that (pair memory, keyed facts, deterministic alert ids).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from rapport_common.kafka.consumer import ConsumedEvent

Partition = tuple[str, int]


async def claim(conn: asyncpg.Connection, group: str, batch: Sequence[ConsumedEvent]) -> list[ConsumedEvent]:
    """The records of ``batch`` not yet processed by ``group`` (in batch order); their positions move past them.

    Call inside the transaction that stores the records' effects.
    """
    if not batch:
        return []
    ends: dict[Partition, int] = {}
    for consumed in batch:
        where = (consumed.topic, consumed.partition)
        ends[where] = max(ends.get(where, 0), consumed.offset + 1)
    parts = sorted(ends)  # one lock order for every instance
    # an upsert that changes nothing still locks the row, and waits for a concurrent first insert to commit
    rows = await conn.fetch(
        """INSERT INTO consumer_positions (consumer_group, topic, partition, next_offset)
           SELECT $1, topic, partition, 0
           FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS p(topic, partition, n)
           ORDER BY n
           ON CONFLICT (consumer_group, topic, partition)
           DO UPDATE SET next_offset = consumer_positions.next_offset
           RETURNING topic, partition, next_offset""",
        group,
        [topic for topic, _ in parts],
        [partition for _, partition in parts],
    )
    stored = {(row["topic"], row["partition"]): row["next_offset"] for row in rows}
    fresh = [c for c in batch if c.offset >= stored[(c.topic, c.partition)]]
    moved = [(where, end) for where, end in ends.items() if end > stored[where]]
    if moved:
        await conn.execute(
            """UPDATE consumer_positions AS c SET next_offset = m.next_offset, updated_at = now()
               FROM unnest($2::text[], $3::int[], $4::int8[]) AS m(topic, partition, next_offset)
               WHERE c.consumer_group = $1 AND c.topic = m.topic AND c.partition = m.partition""",
            group,
            [where[0] for where, _ in moved],
            [where[1] for where, _ in moved],
            [end for _, end in moved],
        )
    return fresh


async def forget(conn: asyncpg.Connection | asyncpg.Pool, group: str, parts: Sequence[Partition]) -> None:
    """Drop ``group``'s positions on ``parts`` (they describe another incarnation of those partitions)."""
    if parts:
        await conn.execute(
            """DELETE FROM consumer_positions AS c
               USING unnest($2::text[], $3::int[]) AS p(topic, partition)
               WHERE c.consumer_group = $1 AND c.topic = p.topic AND c.partition = p.partition""",
            group,
            [topic for topic, _ in parts],
            [partition for _, partition in parts],
        )


async def positions(conn: asyncpg.Connection | asyncpg.Pool, group: str) -> dict[Partition, int]:
    """``group``'s next offset per partition (what it has processed: everything below)."""
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM consumer_positions WHERE consumer_group = $1", group
    )
    return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}
