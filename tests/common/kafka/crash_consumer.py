"""Run by test_consumer_crash.py in a subprocess: apply one batch's effects, then die (SIGKILL) before the
consumer commits its offsets."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from rapport_common.db import inbox
from rapport_common.db.pool import create_pool
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.kafka.producer import EventProducer


async def main(bootstrap: str, database_url: str, topic: str, group: str, idempotence: str) -> None:
    pool = await create_pool(database_url)
    producer = EventProducer(bootstrap, enable_idempotence=idempotence == "true")
    await producer.start()

    async def handle(batch: list[ConsumedEvent]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, "crash-test", [c.event.id for c in batch])
            await conn.executemany(
                "INSERT INTO effects (event_id) VALUES ($1)", [(c.event.id,) for c in batch if c.event.id in new]
            )
        os.kill(os.getpid(), signal.SIGKILL)  # effects are durable; offsets are not committed yet

    consumer = BatchConsumer(
        service="test",
        group_id=group,
        topics=[topic],
        bootstrap_servers=bootstrap,
        handler=handle,
        dead_letters=producer,
        session_timeout_ms=6000,
    )
    await consumer.start()
    await consumer.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
