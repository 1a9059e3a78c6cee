"""Run a BatchConsumer in the background for a test and collect what its handler saw."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer

from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.kafka.producer import EventProducer
from rapport_common.kafka.reading import topic_partitions


@asynccontextmanager
async def running_consumer(
    bootstrap: str,
    topic: str,
    producer: EventProducer,
    handler: Callable[[list[ConsumedEvent]], Awaitable[None]],
    group: str | None = None,
) -> AsyncIterator[BatchConsumer]:
    consumer = BatchConsumer(
        service="test",
        group_id=group or f"g-{topic}",
        topics=[topic],
        bootstrap_servers=bootstrap,
        handler=handler,
        dead_letters=producer,
        session_timeout_ms=6000,
        max_backoff_s=0.5,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=30)
        await consumer.close()


async def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30) -> list[object]:
    """Read ``expected`` records from the start of ``topic`` with a plain aiokafka consumer."""
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await reader.start()
    records: list[object] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(records) < expected:
                for batch in (await reader.getmany(timeout_ms=200)).values():
                    records.extend(batch)
    finally:
        await reader.stop()
    return records


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


async def create_topics(bootstrap: str, names: list[str], partitions: int = 1) -> None:
    """Create exactly these topics (e.g. the ``<topic>.dlq`` of a test topic)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def count_records(bootstrap: str, topic: str) -> int:
    """How many records ``topic`` holds (sum of end offsets; nothing is ever deleted in these tests)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await reader.start()
    try:
        partitions = await topic_partitions(reader, [topic])
        ends = await reader.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await reader.stop()
