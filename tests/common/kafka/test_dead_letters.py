"""Invalid records go to ``<topic>.dlq`` with their reason and the records after them are processed;
transient failures are retried, not dead-lettered; a record the handler itself refuses is isolated."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from rapport_common.events import KafkaRecord, encode_event
from rapport_common.events.examples import EXAMPLES
from rapport_common.kafka.consumer import ConsumedEvent
from rapport_common.kafka.producer import EventProducer
from tests.common.kafka.consumer_harness import count_records, create_topics, read_all, running_consumer, wait_until


def _valid(topic: str, event_id: str) -> KafkaRecord:
    record = encode_event(EXAMPLES["rapport.feedback.pulse-submitted"].model_copy(update={"id": event_id}))
    return KafkaRecord(topic, record.key, record.value, record.headers)


async def test_poison_record_is_dead_lettered_with_reason_and_the_rest_flow(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    [topic] = await make_topics(["poison"], partitions=1)
    dlq = f"{topic}.dlq"
    await create_topics(kafka_bootstrap_servers, [dlq])
    good = _valid(topic, "before")
    poison = KafkaRecord(topic, good.key, b'{"specversion": "1.0", "id": "x", "type": ', good.headers)
    after = _valid(topic, "after")
    assert all(await producer.publish([good, poison, after]))

    seen: list[str] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        seen.extend(c.event.id for c in batch)

    async with running_consumer(kafka_bootstrap_servers, topic, producer, handle):
        await wait_until(lambda: len(seen) >= 2)
    assert seen == ["before", "after"]
    [dead] = await read_all(kafka_bootstrap_servers, dlq, expected=1)
    headers = {k: v.decode() for k, v in dead.headers}  # type: ignore[attr-defined]
    assert dead.value == poison.value, "the original record is kept untouched"  # type: ignore[attr-defined]
    assert headers["dlq-reason"] == "invalid-json"
    assert headers["dlq-field"] == "value"
    assert headers["dlq-source-topic"] == topic
    assert headers["dlq-source-offset"] == "1"
    assert headers["content-type"] == "application/cloudevents+json"


async def test_invalid_field_names_the_field_in_the_dlq(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    [topic] = await make_topics(["badfield"], partitions=1)
    await create_topics(kafka_bootstrap_servers, [f"{topic}.dlq"])
    record = _valid(topic, "bad")
    body = json.loads(record.value)
    body["data"]["score"] = 9
    assert all(await producer.publish([KafkaRecord(topic, record.key, json.dumps(body).encode(), record.headers)]))

    async def handle(batch: list[ConsumedEvent]) -> None:
        raise AssertionError("nothing valid to handle")

    async with running_consumer(kafka_bootstrap_servers, topic, producer, handle):
        [dead] = await read_all(kafka_bootstrap_servers, f"{topic}.dlq", expected=1)
    headers = {k: v.decode() for k, v in dead.headers}  # type: ignore[attr-defined]
    assert (headers["dlq-reason"], headers["dlq-field"]) == ("invalid-field", "data.score")
    assert "9" not in headers["dlq-error"], "DLQ headers never echo payload values"


async def test_database_down_is_retried_not_dead_lettered(
    producer: EventProducer,
    kafka_bootstrap_servers: str,
    make_topics: Any,
    migrated_url: str,
    postgres_admin_url: str,
) -> None:
    [topic] = await make_topics(["dbdown"], partitions=1)
    await create_topics(kafka_bootstrap_servers, [f"{topic}.dlq"])
    dbname = migrated_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
    attempts: list[int] = []
    handled: list[str] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        attempts.append(len(batch))
        conn = await asyncpg.connect(migrated_url)  # refused while the database is "down"
        await conn.close()
        handled.extend(c.event.id for c in batch)

    try:
        assert all(await producer.publish([_valid(topic, "e1"), _valid(topic, "e2")]))
        async with running_consumer(kafka_bootstrap_servers, topic, producer, handle):
            await wait_until(lambda: len(attempts) >= 3)
            assert handled == []
            await admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
            await wait_until(lambda: len(handled) == 2)
    finally:
        await admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert handled == ["e1", "e2"]
    assert await count_records(kafka_bootstrap_servers, f"{topic}.dlq") == 0


async def test_event_the_handler_refuses_is_isolated_and_dead_lettered(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    [topic] = await make_topics(["refuse"], partitions=1)
    await create_topics(kafka_bootstrap_servers, [f"{topic}.dlq"])
    assert all(await producer.publish([_valid(topic, i) for i in ("a", "bomb", "c")]))
    done: list[str] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        if any(c.event.id == "bomb" for c in batch):
            raise ValueError("this handler cannot process that event")
        done.extend(c.event.id for c in batch)

    async with running_consumer(kafka_bootstrap_servers, topic, producer, handle):
        [dead] = await read_all(kafka_bootstrap_servers, f"{topic}.dlq", expected=1)
        await wait_until(lambda: len(done) == 2)
    assert done == ["a", "c"]
    assert dict(dead.headers)["dlq-reason"] == b"handler-error"  # type: ignore[attr-defined]


async def test_record_too_large_to_carry_is_dead_lettered_without_its_value(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    from aiokafka import AIOKafkaProducer

    # Apache Kafka refuses records over 1 MB unless the topic allows them (Tansu has no limit)
    [topic] = await make_topics(["huge"], partitions=1, configs={"max.message.bytes": str(4 << 20)})
    await create_topics(kafka_bootstrap_servers, [f"{topic}.dlq"])
    big = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers, max_request_size=4 << 20)
    await big.start()
    try:
        await big.send_and_wait(topic, value=b"x" * 1_600_000, key=b"k")
    finally:
        await big.stop()
    assert all(await producer.publish([_valid(topic, "after-huge")]))
    seen: list[str] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        seen.extend(c.event.id for c in batch)

    async with running_consumer(kafka_bootstrap_servers, topic, producer, handle):
        [dead] = await read_all(kafka_bootstrap_servers, f"{topic}.dlq", expected=1)
        await wait_until(lambda: seen == ["after-huge"])
    headers = {k: v.decode() for k, v in dead.headers}  # type: ignore[attr-defined]
    assert headers["dlq-reason"] == "too-large"
    assert headers["dlq-value-dropped"] == "too-large"
    assert dead.value == b""  # type: ignore[attr-defined]


def _on(topic: str, event: Any) -> KafkaRecord:
    record = encode_event(event)
    return KafkaRecord(topic, record.key, record.value, record.headers)


async def test_foreign_type_or_source_is_dead_lettered_and_never_handled(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    """EVENTS.md v1.1: on (a test copy of) intake.events, an assignment from the session service and an SRS
    (a feedback.events type) go to the DLQ with ``foreign-source``; the valid records around them are handled."""
    [topic] = await make_topics(["intake.events"], partitions=1)  # t<hex>.intake.events stands for intake.events
    dlq = f"{topic}.dlq"
    await create_topics(kafka_bootstrap_servers, [dlq])
    registered = EXAMPLES["rapport.intake.client-registered"].model_copy(update={"id": "before"})
    assigned = EXAMPLES["rapport.intake.clinician-assigned"]
    forged = assigned.model_copy(update={"id": "forged", "source": "/rapport/session"})
    srs = EXAMPLES["rapport.feedback.srs-submitted"].model_copy(update={"id": "wrong-topic"})
    records = [_on(topic, e) for e in (registered, forged, srs, assigned.model_copy(update={"id": "after"}))]
    assert all(await producer.publish(records))

    seen: list[str] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        seen.extend(c.event.id for c in batch)

    async with running_consumer(kafka_bootstrap_servers, topic, producer, handle):
        dead = await read_all(kafka_bootstrap_servers, dlq, expected=2)
        await wait_until(lambda: len(seen) >= 2)
    assert seen == ["before", "after"], "the handler never sees a foreign record"
    by_id = {dict(d.headers)["rapport-id"].decode(): d for d in dead}  # type: ignore[attr-defined]
    assert set(by_id) == {"forged", "wrong-topic"}
    for event_id, field, offset in (("forged", "source", "1"), ("wrong-topic", "type", "2")):
        record = records[int(offset)]
        kept = by_id[event_id]
        headers = {k: v.decode() for k, v in kept.headers}  # type: ignore[attr-defined]
        assert (headers["dlq-reason"], headers["dlq-field"]) == ("foreign-source", field)
        assert (headers["dlq-source-topic"], headers["dlq-source-offset"]) == (topic, offset)
        if field == "source":
            assert "/rapport/session" not in headers["dlq-error"], "the record's own source is not echoed"
        assert (kept.key, kept.value) == (record.key, record.value), "the original record is kept untouched"  # type: ignore[attr-defined]
        # the original headers are copied first, in order, then the dlq-* ones
        assert list(kept.headers)[: len(record.headers)] == record.headers  # type: ignore[attr-defined]
        assert {"content-type", "rapport-type", "rapport-id", "traceparent"} <= set(headers)
