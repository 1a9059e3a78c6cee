"""A consumer killed after its effects but before committing offsets: the records are delivered again and
the inbox makes the second delivery a no-op."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from rapport_common.db import inbox
from rapport_common.events import encode_event
from rapport_common.events.examples import EXAMPLES
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.kafka.producer import EventProducer


async def test_killed_before_commit_reprocesses_without_second_effect(
    migrated_pool: asyncpg.Pool,
    producer: EventProducer,
    kafka_bootstrap_servers: str,
    kafka_idempotence: bool,
    make_topics: Any,
    migrated_url: str,
) -> None:
    [topic] = await make_topics(["crash"], partitions=1)
    await migrated_pool.execute("CREATE TABLE effects (event_id text PRIMARY KEY)")
    events = [EXAMPLES["rapport.session.started"].model_copy(update={"id": f"evt-{i}"}) for i in range(20)]
    records = [encode_event(e) for e in events]
    acked = await producer.publish([r.__class__(topic, r.key, r.value, r.headers) for r in records])
    assert all(acked)

    group = f"crash-{topic}"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("crash_consumer.py")),
        kafka_bootstrap_servers,
        migrated_url,
        topic,
        group,
        str(kafka_idempotence).lower(),
    )
    assert await asyncio.wait_for(child.wait(), timeout=60) == -9, "the consumer must have died by SIGKILL"
    first_effects = await migrated_pool.fetchval("SELECT count(*) FROM effects")
    assert first_effects > 0, "the killed consumer applied effects before dying"

    seen: Counter[str] = Counter()

    async def handle(batch: list[ConsumedEvent]) -> None:
        seen.update(c.event.id for c in batch)
        async with migrated_pool.acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, "crash-test", [c.event.id for c in batch])
            await conn.executemany(
                "INSERT INTO effects (event_id) VALUES ($1)", [(c.event.id,) for c in batch if c.event.id in new]
            )

    survivor = BatchConsumer(
        service="test",
        group_id=group,
        topics=[topic],
        bootstrap_servers=kafka_bootstrap_servers,
        handler=handle,
        dead_letters=producer,
        session_timeout_ms=6000,
    )
    await survivor.start()
    task = asyncio.create_task(survivor.run())
    try:
        async with asyncio.timeout(60):
            while len(seen) < len(events):
                await asyncio.sleep(0.1)
    finally:
        survivor.stop()
        await task
        await survivor.close()
    assert set(seen) == {e.id for e in events}, "uncommitted records were delivered again"
    assert await migrated_pool.fetchval("SELECT count(*) FROM effects") == len(events)
    assert await migrated_pool.fetchval("SELECT count(*) FROM inbox") == len(events)
