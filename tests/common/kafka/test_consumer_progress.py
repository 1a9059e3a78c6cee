"""A consumer's per-partition "caught up" marks (real broker): set only once everything a partition held at a
broker answer has been handled, and never while a handled batch is still missing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition

from rapport_common.events import encode_event
from rapport_common.events.examples import EXAMPLES
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.kafka.producer import EventProducer

from .consumer_harness import running_consumer


async def test_partitions_are_marked_caught_up_only_after_their_records_are_handled(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    [topic] = await make_topics(["progress"], partitions=2)
    template = EXAMPLES["rapport.session.started"]
    records = [encode_event(template.model_copy(update={"id": f"evt-{i}", "subject": f"c{i}"})) for i in range(40)]
    assert all(await producer.publish([r.__class__(topic, r.key, r.value, r.headers) for r in records]))
    gate = asyncio.Event()
    handled: list[str] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        await gate.wait()  # the first batch is held until the test has looked
        handled.extend(c.event.id for c in batch)

    before = time.time()
    async with running_consumer(kafka_bootstrap_servers, topic, producer, handle) as consumer:
        async with asyncio.timeout(30):
            while not consumer.assignment:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            assert consumer.partition_caught_up == {}, "marked while its first batch was not handled"
            gate.set()
            while len(consumer.partition_caught_up) < 2:
                await asyncio.sleep(0.05)
        assert len(handled) == 40
        marks = consumer.partition_caught_up
        assert set(marks) == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
        assert all(before - 1 < at <= time.time() for at in marks.values())
        assert consumer.partition_count() == 2


async def test_read_first_topics_are_read_ahead_of_the_others_and_the_others_still_follow(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    first, later = await make_topics(["facts", "activity"], partitions=2)
    template = EXAMPLES["rapport.session.started"]

    def records(topic: str, prefix: str, n: int) -> list[Any]:
        out = []
        for i in range(n):
            r = encode_event(template.model_copy(update={"id": f"{prefix}-{i}", "subject": f"c{i}"}))
            out.append(r.__class__(topic, r.key, r.value, r.headers))
        return out

    # the later topic's records are published first: without read-first they would come first too
    assert all(await producer.publish(records(later, "later", 3000)))
    assert all(await producer.publish(records(first, "first", 3000)))
    batches: list[list[str]] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        batches.append([c.topic for c in batch])
        await asyncio.sleep(0.01)

    consumer = BatchConsumer(
        service="test",
        group_id=f"g-{first}",
        topics=[later, first],
        bootstrap_servers=kafka_bootstrap_servers,
        handler=handle,
        dead_letters=producer,
        session_timeout_ms=6000,
        max_records=200,
        read_first=[first],
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(60):
            while sum(len(b) for b in batches) < 6000:
                await asyncio.sleep(0.05)
    finally:
        consumer.stop()
        await task
        await consumer.close()
    order = [topic for batch in batches for topic in batch]
    last_first = max(i for i, topic in enumerate(order) if topic == first)
    # what was fetched before the first pause (the opening fetches, a few batches) may come early; nothing
    # else does (without read-first, all 3,000 came before the last read-first record: mutation-checked)
    early = [topic for topic in order[:last_first] if topic == later]
    assert len(early) <= 3 * 200, len(early)
    assert order.count(later) == 3000 and order.count(first) == 3000
