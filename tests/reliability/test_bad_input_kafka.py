"""Bad Kafka input: malformed records on every topic the alliance-monitor consumes, mixed into a flow of valid
events. Every malformed record must land in ``<topic>.dlq`` with its reason, every valid one must be processed
(the monitor's stored position passes them, so analysed exactly once), and the consumer must keep going.

The monitor runs in-process (its real consumer group, real broker, real PostgreSQL) on fresh copies of its
four input topics (``CONSUME_TOPICS``), so the garbage never reaches the contract topics other tests read.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rapport_alliance_monitor.app import build_app
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_alliance_monitor.store import positions
from rapport_common.events import consent, feedback, intake, session
from rapport_common.events.codec import encode_event
from rapport_common.events.examples import example_event
from rapport_common.kafka.reading import topic_partitions
from rapport_local.postgres import ensure_database

SECRET = "reliability-kafka-fuzz-secret-32-bytes"
INPUTS = {
    "intake.events": [intake.ClientRegistered, intake.ClinicianAssigned],
    "consent.events": [consent.ConsentGranted],
    "session.events": [session.SessionScheduled, session.SessionStarted, session.MessageSent],
    "feedback.events": [feedback.SrsSubmitted, feedback.PulseSubmitted],
}
ROUNDS = int(os.environ.get("RAPPORT_KAFKA_FUZZ_ROUNDS", "3"))


@dataclass(frozen=True)
class Malformed:
    name: str
    value: bytes | None
    headers: list[tuple[str, bytes]]
    reason: str  # the dlq-reason the consumer must give


def _valid_json(event_cls: Any, subject: str) -> bytes:
    return encode_event(example_event(event_cls, subject=subject)).value


def malformed_records(event_cls: Any, rng: random.Random) -> list[Malformed]:
    """One record of each malformed class, built from a valid event of ``event_cls``."""
    subject = f"fuzz-{uuid.uuid4().hex[:8]}"
    good = _valid_json(event_cls, subject)
    envelope = json.loads(good)
    ct = [("content-type", b"application/cloudevents+json")]

    def mutate(**changes: Any) -> bytes:
        copy = json.loads(good)
        for path, value in changes.items():
            node = copy
            parts = path.split("__")
            for part in parts[:-1]:
                node = node[part]
            if value is _DELETE:
                node.pop(parts[-1], None)
            else:
                node[parts[-1]] = value
        return json.dumps(copy).encode()

    first_data_field = next(iter(envelope["data"]))
    huge = dict(envelope)
    huge["data"] = dict(envelope["data"]) | {"padding": "x" * 1_050_000}

    return [
        Malformed("truncated-json", good[: len(good) // 2], ct, "invalid-json"),
        Malformed("binary-garbage", bytes(rng.getrandbits(8) for _ in range(300)), ct, "invalid-json"),
        Malformed("invalid-utf8", b'{"specversion":"1.0","type":"\xff\xfe"}', ct, "invalid-json"),
        Malformed("deeply-nested", b"[" * 5000 + b"]" * 5000, ct, "invalid-json"),
        Malformed("not-an-object", b"[1,2,3]", ct, "not-an-object"),
        Malformed("empty-value", None, ct, "empty-value"),
        Malformed("unknown-type", mutate(type="rapport.nothing.happened"), ct, "unknown-type"),
        Malformed("missing-type", mutate(type=_DELETE), ct, "unknown-type"),
        Malformed("missing-specversion", mutate(specversion=_DELETE), ct, "invalid-field"),
        Malformed(
            "wrong-type-of-field", mutate(**{f"data__{first_data_field}": {"nested": [1, 2]}}), ct, "invalid-field"
        ),
        Malformed("wrong-type-of-time", mutate(time=1_700_000_000), ct, "invalid-field"),
        Malformed("missing-data", mutate(data=_DELETE), ct, "invalid-field"),
        Malformed("wrong-content-type", good, [("content-type", b"text/plain")], "invalid-content-type"),
        Malformed("foreign-source", mutate(source="/rapport/elsewhere"), ct, "foreign-source"),
        Malformed("huge-payload", json.dumps(huge).encode(), ct, "too-large"),
    ]


_DELETE = object()


@dataclass
class Monitor:
    topics: dict[str, str]  # contract name -> fresh topic
    pool: asyncpg.Pool
    kafka: str
    group: str

    async def processed(self, sent: dict[str, tuple[str, int, int]]) -> set[str]:
        """The ids whose record (topic, partition, offset) the monitor's committed position has passed."""
        stored = await positions.positions(self.pool, self.group)
        return {event_id for event_id, (topic, part, offset) in sent.items() if stored.get((topic, part), 0) > offset}


@pytest.fixture
async def monitor(
    make_topics: Any, postgres_admin_url: str, kafka_bootstrap_servers: str, kafka_idempotence: bool
) -> AsyncIterator[Monitor]:
    names = list(INPUTS)
    # the oversized cases need a broker that takes them: Apache Kafka refuses records over 1 MB unless the topic
    # allows more (Tansu has no limit); the services' own producer still cannot carry them on
    fresh = await make_topics(names, partitions=3, dlq=True, configs={"max.message.bytes": str(4 << 20)})
    db = f"rel_fuzz_{uuid.uuid4().hex[:8]}"
    await ensure_database(postgres_admin_url, db)
    settings = AllianceMonitorSettings(
        database_url=postgres_admin_url.rsplit("/", 1)[0] + "/" + db,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        kafka_enable_idempotence=kafka_idempotence,
        kafka_session_timeout_ms=6000,
        jwt_secret=SECRET,
        consumer_group=f"rel-fuzz-{uuid.uuid4().hex[:8]}",
        consume_topics=fresh,
        consent_hold_seconds=0.5,
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        pool = app.state.runtime.pool
        yield Monitor(dict(zip(names, fresh, strict=True)), pool, kafka_bootstrap_servers, settings.consumer_group)


async def _read_all(kafka: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, [topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_malformed_records_are_dead_lettered_with_reasons_while_valid_ones_flow(monitor: Monitor) -> None:
    rng = random.Random(7)
    producer = AIOKafkaProducer(bootstrap_servers=monitor.kafka, max_request_size=4 << 20, linger_ms=0)
    await producer.start()
    sent_bad: dict[tuple[str, int, int], Malformed] = {}
    valid: dict[str, tuple[str, int, int]] = {}
    try:
        for _round in range(ROUNDS):
            for contract, classes in INPUTS.items():
                topic = monitor.topics[contract]
                for event_cls in classes:
                    for bad in malformed_records(event_cls, rng):
                        key = f"fuzz-{uuid.uuid4().hex[:6]}".encode()
                        meta = await producer.send_and_wait(topic, value=bad.value, key=key, headers=bad.headers)
                        sent_bad[(topic, meta.partition, meta.offset)] = bad
                        # a valid event right behind every malformed one, on the same partition
                        event = example_event(event_cls, subject=key.decode())
                        record = encode_event(event)
                        meta = await producer.send_and_wait(topic, value=record.value, key=key, headers=record.headers)
                        valid[event.id] = (topic, meta.partition, meta.offset)
    finally:
        await producer.stop()

    # valid ones processed: the monitor's committed position is past every one of them (within 90 s)
    deadline = asyncio.get_running_loop().time() + 90
    while True:
        claimed = await monitor.processed(valid)
        if claimed == set(valid) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert set(valid) - claimed == set(), f"{len(set(valid) - claimed)} of {len(valid)} valid events not processed"

    # malformed ones dead-lettered, each once, with the reason of its class and where it came from
    found: dict[tuple[str, int, int], dict[str, str]] = {}
    for contract in INPUTS:
        for record in await _read_all(monitor.kafka, monitor.topics[contract] + ".dlq"):
            headers = {name: value.decode("utf-8", "replace") for name, value in record.headers}
            source = (
                headers["dlq-source-topic"],
                int(headers["dlq-source-partition"]),
                int(headers["dlq-source-offset"]),
            )
            assert source not in found, f"dead-lettered twice: {source}"
            found[source] = headers
    missing = [f"{bad.name}@{where}" for where, bad in sent_bad.items() if where not in found]
    assert missing == [], f"not dead-lettered: {missing[:10]}"
    wrong = [
        f"{bad.name}: got {found[where]['dlq-reason']} ({found[where]['dlq-field']}), expected {bad.reason}"
        for where, bad in sent_bad.items()
        if found[where]["dlq-reason"] != bad.reason
    ]
    assert wrong == [], wrong[:10]
    assert all(headers["dlq-error"] and headers["dlq-field"] for headers in found.values())
    extra = set(found) - set(sent_bad)
    assert extra == set(), f"valid records dead-lettered: {sorted(extra)[:5]}"
    print(f"{len(sent_bad)} malformed dead-lettered with reasons, {len(valid)} valid processed")


async def test_a_record_too_large_to_dead_letter_does_not_stall_the_consumer(monitor: Monitor) -> None:
    """1.6 MB: the broker takes it, the services' producer cannot carry it to the DLQ. Regression: the consumer
    retried that publish forever and the whole group stalled; now the dead letter goes without its value."""
    topic = monitor.topics["feedback.events"]
    key = f"fuzz-{uuid.uuid4().hex[:6]}"
    envelope = json.loads(_valid_json(feedback.SrsSubmitted, key))
    envelope["data"]["padding"] = "x" * 1_600_000
    producer = AIOKafkaProducer(bootstrap_servers=monitor.kafka, max_request_size=4 << 20)
    await producer.start()
    valid: dict[str, tuple[str, int, int]] = {}
    try:
        await producer.send_and_wait(topic, value=json.dumps(envelope).encode(), key=key.encode())
        for _ in range(5):
            event = example_event(feedback.PulseSubmitted, subject=f"{key}-{uuid.uuid4().hex[:4]}")
            record = encode_event(event)
            meta = await producer.send_and_wait(topic, value=record.value, key=key.encode(), headers=record.headers)
            valid[event.id] = (topic, meta.partition, meta.offset)
    finally:
        await producer.stop()
    deadline = asyncio.get_running_loop().time() + 20
    claimed: set[str] = set()
    while claimed != set(valid) and asyncio.get_running_loop().time() < deadline:
        claimed = await monitor.processed(valid)
        await asyncio.sleep(0.5)
    assert claimed == set(valid), f"{len(set(valid) - claimed)} of {len(valid)} records behind the oversized one stuck"
    dead = await _read_all(monitor.kafka, topic + ".dlq")
    headers = [{k: v.decode() for k, v in record.headers} for record in dead if record.key == key.encode()]
    assert len(headers) == 1, headers
    assert headers[0]["dlq-reason"] == "too-large"
    assert headers[0].get("dlq-value-dropped") == "too-large"
