"""The monitor's one consumer group over the four input topics: one transaction per batch.

The batch's partitions' stored positions come first (records below them were processed already: a
redelivery after a crash or a rebalance stops there; see ``store/positions.py``), then
:class:`~rapport_alliance_monitor.analysis.Analysis` does the rest inside the same transaction, and the
positions move past the batch in it too. Nothing is kept in memory between batches, so a partition moving
to another instance, or a restart, continues from PostgreSQL. (States kept in memory between batches were
built and measured: slower here, and 16 MB per 1,000 pairs; see README.)
"""

from __future__ import annotations

from typing import Any

import asyncpg

from rapport_alliance_monitor.analysis import Analysis
from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_alliance_monitor.store import positions
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.service import ServiceRuntime


class MonitorHandler:
    def __init__(self, pool: asyncpg.Pool, config: RulesConfig, *, group: str) -> None:
        self.pool = pool
        self.config = config
        self.group = group

    async def __call__(self, batch: list[ConsumedEvent]) -> None:
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


def monitor_consumer(runtime: ServiceRuntime) -> BatchConsumer:
    settings: AllianceMonitorSettings = runtime.settings
    return BatchConsumer(
        service="alliance-monitor",
        group_id=settings.consumer_group,
        topics=settings.consume_topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        handler=MonitorHandler(runtime.pool, runtime.extras["rules"], group=settings.consumer_group),
        dead_letters=runtime.producer,
        max_records=settings.kafka_max_batch,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        read_first=settings.read_first_topics,
    )
