"""How far the monitor's consumer group has read its input partitions, for decisions that wait on them.

The consumer marks each partition it owns when everything the partition held at a broker answer has been
handled (:attr:`rapport_common.kafka.consumer.BatchConsumer.partition_caught_up`); the hold job writes those
marks here, so every instance sees every partition's, whichever instance owns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import asyncpg

from rapport_alliance_monitor.store.positions import Partition


async def record(conn: asyncpg.Connection | asyncpg.Pool, group: str, marks: Mapping[Partition, float]) -> None:
    """Store ``marks`` (epoch seconds per partition); a mark never moves back."""
    if not marks:
        return
    parts = sorted(marks)
    await conn.execute(
        """INSERT INTO consumer_caught_up (consumer_group, topic, partition, caught_up_at)
           SELECT $1, topic, partition, at
           FROM unnest($2::text[], $3::int[], $4::timestamptz[]) WITH ORDINALITY AS m(topic, partition, at, n)
           ORDER BY n
           ON CONFLICT (consumer_group, topic, partition)
           DO UPDATE SET caught_up_at = GREATEST(consumer_caught_up.caught_up_at, EXCLUDED.caught_up_at)""",
        group,
        [topic for topic, _ in parts],
        [partition for _, partition in parts],
        [datetime.fromtimestamp(marks[p], UTC) for p in parts],
    )


async def all_caught_up_since(
    conn: asyncpg.Connection | asyncpg.Pool, group: str, topics: Sequence[str], partitions: int
) -> datetime | None:
    """The latest moment before which nothing published to ``topics`` is unread by ``group``: the oldest
    partition mark, once all ``partitions`` have one (None before that)."""
    row = await conn.fetchrow(
        """SELECT count(*) AS marked, min(caught_up_at) AS since FROM consumer_caught_up
           WHERE consumer_group = $1 AND topic = ANY($2::text[])""",
        group,
        list(topics),
    )
    if row is None or row["marked"] < partitions:
        return None
    since: datetime = row["since"]
    return since
