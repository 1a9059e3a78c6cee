"""Raw broker rate with aiokafka batches (no decoding, no database): the ceiling the suite runs under."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rapport_common.kafka.reading import topic_partitions


@dataclass
class BrokerRate:
    records: int
    produce_per_s: float
    consume_per_s: float


async def raw_rate(bootstrap: str, *, records: int = 60_000, size: int = 400, partitions: int = 6) -> BrokerRate:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    value = os.urandom(size // 2).hex().encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5, acks=1)
    await producer.start()
    try:
        began = time.perf_counter()
        sent = 0
        futures = []
        while sent < records:
            for partition in range(partitions):
                batch = producer.create_batch()
                while sent < records and batch.append(key=str(sent).encode(), value=value, timestamp=None) is not None:
                    sent += 1
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                if sent >= records:
                    break
        for fut in futures:
            await fut
        produce_s = time.perf_counter() - began
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        began = time.perf_counter()
        got = 0
        while got < records:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            got += sum(len(v) for v in batch.values())
            if not batch and time.perf_counter() - began > 60:
                break
        consume_s = time.perf_counter() - began
    finally:
        await consumer.stop()
    return BrokerRate(records, records / produce_s, got / consume_s)


async def end_offsets(bootstrap: str, topics: list[str]) -> int:
    """Sum of the high watermarks of ``topics`` (records ever written)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        parts = await topic_partitions(consumer, topics)
        offsets = await consumer.end_offsets(parts)
        return int(sum(offsets.values()))
    finally:
        await consumer.stop()
