"""The monitor's one consumer group over the four input topics: one transaction per batch.

Inbox claim first (redeliveries and replays of the same event ids stop there), then
:class:`~rapport_alliance_monitor.analysis.Analysis` does the rest inside the same transaction. Nothing is
kept in memory between batches, so a partition moving to another instance, or a restart, continues from
PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from rapport_alliance_monitor.analysis import Analysis
from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_common.db import inbox
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.service import ServiceRuntime

INBOX_CONSUMER = "alliance-monitor"


class MonitorHandler:
    def __init__(self, pool: asyncpg.Pool, config: RulesConfig) -> None:
        self.pool = pool
        self.config = config

    async def __call__(self, batch: list[ConsumedEvent]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, INBOX_CONSUMER, [c.event.id for c in batch])
            events: list[Any] = []
            for consumed in batch:
                if consumed.event.id in new:
                    new.discard(consumed.event.id)  # the same id twice in one batch: once
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
        handler=MonitorHandler(runtime.pool, runtime.extras["rules"]),
        dead_letters=runtime.producer,
        max_records=settings.kafka_max_batch,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        session_timeout_ms=settings.kafka_session_timeout_ms,
    )
