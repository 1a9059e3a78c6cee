"""The monitor's one consumer group over the four input topics: one transaction per batch.

The batch's partitions' stored positions come first (records below them were processed already: a
redelivery after a crash or a rebalance stops there; see ``store/positions.py``), then
:class:`~rapport_alliance_monitor.analysis.Analysis` does the rest inside the same transaction, and the
positions move past the batch in it too. Nothing is kept in memory between batches, so a partition moving
to another instance, or a restart, continues from PostgreSQL. (States kept in memory between batches were
built and measured: slower here, and 16 MB per 1,000 pairs; see README.)
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from rapport_alliance_monitor.analysis import Analysis
from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.runtime import MonitorRuntime
from rapport_alliance_monitor.store import positions
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent

log = logging.getLogger(__name__)


class MonitorHandler:
    def __init__(self, pool: asyncpg.Pool, config: RulesConfig, *, group: str, check: PositionCheck) -> None:
        self.pool = pool
        self.config = config
        self.group = group
        self.check = check

    async def __call__(self, batch: list[ConsumedEvent]) -> None:
        await self.check.ensure({TopicPartition(*where) for where in {(c.topic, c.partition) for c in batch}})
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await positions.claim(conn, self.group, batch)
            seen: set[str] = set()
            events: list[Any] = []
            for consumed in fresh:
                if consumed.event.id not in seen:  # the same id twice in one batch (a producer retry): once
                    seen.add(consumed.event.id)
                    events.append(consumed.event)
            if not events:
                return
            analysis = Analysis(conn, self.config, hold_seconds=self.config.consent.hold_seconds)
            await analysis.process(events)
            stored = await analysis.finish()
        stored.observe()


class PositionCheck:
    """On assignment: distrust stored positions the broker cannot confirm.

    A stored position skips every record below it, so one that belongs to another incarnation of the
    partition (the embedded broker starts with empty topics on every run while PostgreSQL keeps its data; a
    topic deleted and created again) would silently skip new records. A position is kept only while the
    broker has a committed offset for the group on that partition and the log reaches it; otherwise it is
    dropped and the partition is read from the group's start (redelivered records are harmless: the domain
    is idempotent by event id; skipped ones would be lost).
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.consumer: BatchConsumer | None = None
        #: partitions checked since they were assigned
        self.verified: set[TopicPartition] = set()

    async def __call__(self, assigned: set[TopicPartition]) -> None:
        """The consumer's on-assigned hook; a failure here (database down) is retried by :meth:`ensure`."""
        self.verified -= assigned
        try:
            await self.ensure(assigned)
        except Exception as exc:  # the handler calls ensure() again before it claims anything
            log.warning("position check deferred", extra={"reason": type(exc).__name__})

    async def ensure(self, partitions: set[TopicPartition]) -> None:
        """Check the partitions not checked since their assignment (before a batch of theirs is claimed)."""
        todo = partitions - self.verified
        if not todo or self.consumer is None:
            return
        group = self.consumer.group_id
        stored = await positions.positions(self.pool, group)
        broker = await self.consumer.broker_offsets({tp for tp in todo if (tp.topic, tp.partition) in stored})
        stale = sorted(
            (tp.topic, tp.partition)
            for tp, (committed, end) in broker.items()
            if committed is None or stored[(tp.topic, tp.partition)] > end
        )
        if stale:
            log.warning(
                "stored positions the broker does not confirm were dropped",
                extra={"group": group, "count": len(stale)},
            )
            await positions.forget(self.pool, group, stale)
        self.verified |= todo


def monitor_consumer(runtime: MonitorRuntime) -> BatchConsumer:
    settings = runtime.settings
    check = PositionCheck(runtime.pool)
    consumer = BatchConsumer(
        service="alliance-monitor",
        group_id=settings.consumer_group,
        topics=settings.consume_topics,
        handler=MonitorHandler(runtime.pool, runtime.parts.rules, group=settings.consumer_group, check=check),
        dead_letters=runtime.producer,
        **settings.consumer_options(),
        read_first=settings.read_first_topics,
    )
    check.consumer = consumer
    consumer.on_assigned = check
    return consumer
