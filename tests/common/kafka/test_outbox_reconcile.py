"""A relay that dies after the broker acknowledged a batch but before it marked the rows published: the next
relay finds those rows on their topic and does not send them again, so every event id is on the topic once,
also when the records on the topic were written before v1.1 with the old ``ce_id`` routing header."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from rapport_common.db import outbox
from rapport_common.db.outbox import OutboxRelay
from rapport_common.events import KafkaRecord, encode_event, new_event
from rapport_common.events.codec import current_headers, event_id_of
from rapport_common.events.session import MessageSent, MessageSentData
from rapport_common.kafka.producer import EventProducer
from rapport_common.kafka.reading import topic_partitions

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _events(run: str, count: int) -> list[Any]:
    return [
        new_event(
            MessageSent,
            subject=f"{run}-client-{n % 40}",
            source="/rapport/session",
            event_id=f"{run}:{n:05d}",
            time=T0,
            data=MessageSentData(
                message_id=f"m-{n}", client_id=f"{run}-client-{n % 40}", clinician_id="c", sender="client", sent_at=T0
            ),
        )
        for n in range(count)
    ]


class Crash(BaseException):
    """The process dies here (the relay task ends with it, as under SIGKILL)."""


class DiesBeforeMarkingBatch(OutboxRelay):
    """Publishes normally, then dies after the broker acknowledged batch number ``die_at`` (1-based)."""

    def __init__(self, *args: Any, die_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.die_at = die_at
        self.marks = 0

    async def _mark(self, *args: Any, **kwargs: Any) -> None:
        self.marks += 1
        if self.marks == self.die_at:
            raise Crash
        await super()._mark(*args, **kwargs)


async def _records(bootstrap: str, topic: str) -> list[Any]:
    """Every record of ``topic``, read from the beginning until the topic is quiet."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await reader.start()
    try:
        partitions = await topic_partitions(reader, [topic])
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        found: list[Any] = []
        while fetched := await reader.getmany(timeout_ms=1500):
            for records in fetched.values():
                found.extend(records)
        return found
    finally:
        await reader.stop()


async def _topic_ids(bootstrap: str, topic: str) -> Counter[str]:
    ids = (event_id_of(record.headers) for record in await _records(bootstrap, topic))
    return Counter(event_id for event_id in ids if event_id is not None)


async def _run_relay_until_drained(pool: asyncpg.Pool, producer: EventProducer) -> None:
    relay = OutboxRelay(pool, producer, service="test", batch_size=500, poll_interval_s=0.1)
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(60):
            while await pool.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'"):
                await asyncio.sleep(0.1)
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=10)


async def test_rows_acknowledged_but_not_marked_are_not_sent_twice(
    migrated_pool: asyncpg.Pool,
    producer: EventProducer,
    kafka_bootstrap_servers: str,
    make_topics: Callable[..., Awaitable[list[str]]],
) -> None:
    (topic,) = await make_topics(["session.events"], partitions=3)
    events = _events(f"rc{uuid.uuid4().hex[:6]}", 1200)
    async with migrated_pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, events)
        await conn.execute("UPDATE outbox SET topic = $1", topic)

    dying = DiesBeforeMarkingBatch(migrated_pool, producer, service="test", batch_size=500, die_at=2)
    try:
        await asyncio.wait_for(dying.run(), timeout=60)
        raise AssertionError("the relay was meant to die")
    except Crash:
        pass
    counts = await migrated_pool.fetch("SELECT state, attempts, count(*) AS n FROM outbox GROUP BY 1, 2 ORDER BY 1, 2")
    assert [tuple(r) for r in counts] == [("pending", 0, 200), ("pending", 1, 500), ("published", 1, 500)]

    await _run_relay_until_drained(migrated_pool, producer)

    on_topic = await _topic_ids(kafka_bootstrap_servers, topic)
    assert set(on_topic) == {event.id for event in events}
    assert {event_id: n for event_id, n in on_topic.items() if n != 1} == {}
    found = await migrated_pool.fetchval("SELECT count(*) FROM outbox WHERE last_error = 'found on topic'")
    assert found == 500, "the dead relay's acknowledged batch was recognised, not re-sent"
    positions = await migrated_pool.fetch('SELECT partition, "offset" FROM outbox_positions WHERE topic = $1', topic)
    assert len(positions) == 3


def _pre_v1_1_headers(record: KafkaRecord) -> list[tuple[str, bytes]]:
    """The headers an encoder before v1.1 wrote: the routing headers named ``ce_type``/``ce_id``."""
    old = {"rapport-type": "ce_type", "rapport-id": "ce_id"}
    return [(old.get(name, name), value) for name, value in record.headers]


async def test_records_written_before_the_header_rename_are_recognised_not_sent_twice(
    migrated_pool: asyncpg.Pool,
    producer: EventProducer,
    kafka_bootstrap_servers: str,
    make_topics: Callable[..., Awaitable[list[str]]],
) -> None:
    """An old relay published 40 rows with ``ce_id`` and died before marking them; 20 more rows were enqueued by
    the old encoder. The new relay recognises the 40 on the topic by their old header and publishes the 20 with
    the current routing headers (no ``ce_`` header: that would mean binary mode to CloudEvents readers)."""
    (topic,) = await make_topics(["session.events"], partitions=3)
    events = _events(f"old{uuid.uuid4().hex[:6]}", 60)
    async with migrated_pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, events)
        await conn.execute("UPDATE outbox SET topic = $1", topic)
        for event in events:
            legacy = _pre_v1_1_headers(encode_event(event))
            await conn.execute(
                "UPDATE outbox SET headers = $2::jsonb WHERE event_id = $1",
                event.id,
                json.dumps([[name, value.decode()] for name, value in legacy]),
            )
    old_records = [encode_event(event) for event in events[:40]]
    acked = await producer.publish(
        [KafkaRecord(topic, record.key, record.value, _pre_v1_1_headers(record)) for record in old_records]
    )
    assert all(acked)
    await migrated_pool.execute(
        "UPDATE outbox SET attempts = 1 WHERE event_id = ANY($1::text[])", [event.id for event in events[:40]]
    )

    await _run_relay_until_drained(migrated_pool, producer)

    on_topic = await _topic_ids(kafka_bootstrap_servers, topic)
    assert on_topic == Counter({event.id: 1 for event in events})
    found = await migrated_pool.fetchval("SELECT count(*) FROM outbox WHERE last_error = 'found on topic'")
    assert found == 40, "rows whose records carry the pre-v1.1 ce_id header were recognised, not re-sent"
    new_headers = await _headers_by_id(kafka_bootstrap_servers, topic)
    for event in events[40:]:
        assert [name for name, _ in new_headers[event.id]] == [name for name, _ in encode_event(event).headers]
    assert current_headers(_pre_v1_1_headers(encode_event(events[0]))) == encode_event(events[0]).headers


async def _headers_by_id(bootstrap: str, topic: str) -> dict[str, list[tuple[str, bytes]]]:
    return {str(event_id_of(r.headers)): list(r.headers) for r in await _records(bootstrap, topic)}
