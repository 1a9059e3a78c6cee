"""The broker round-trips records (key, value, headers) with aiokafka and with confluent-kafka
(librdkafka from PyPI), and the embedded Tansu broker starts, answers metadata and stops without a trace."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from rapport_local.broker import EmbeddedBroker, metadata_ping, supports_idempotence
from rapport_local.topics import ensure_topics

HEADERS = [
    ("content-type", b"application/cloudevents+json"),
    ("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"),
]


async def _aiokafka_round_trip(bootstrap: str, topic: str, idempotence: bool) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=idempotence, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, b'{"n": 1}', key=b"client-1", headers=HEADERS, partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        record = await asyncio.wait_for(consumer.getone(), 20)
    finally:
        await consumer.stop()
    assert (record.key, record.value, record.offset) == (b"client-1", b'{"n": 1}', meta.offset)
    assert list(record.headers) == HEADERS


async def test_aiokafka_round_trip(kafka_bootstrap_servers: str, kafka_idempotence: bool, make_topics: Any) -> None:
    [topic] = await make_topics(["roundtrip"], partitions=1)
    await _aiokafka_round_trip(kafka_bootstrap_servers, topic, kafka_idempotence)


async def test_confluent_kafka_round_trip(kafka_bootstrap_servers: str, make_topics: Any) -> None:
    [topic] = await make_topics(["librdkafka"], partitions=1)
    await asyncio.to_thread(_confluent_round_trip, kafka_bootstrap_servers, topic)


def _confluent_round_trip(bootstrap: str, topic: str) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer
    from confluent_kafka import TopicPartition as CTopicPartition

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all"})
    delivered: list[Any] = []
    producer.produce(
        topic, value=b"from-librdkafka", key=b"client-2", headers=HEADERS, on_delivery=lambda e, m: delivered.append(e)
    )
    assert producer.flush(20) == 0 and delivered == [None]

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    try:
        consumer.assign([CTopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + 20
        message = None
        while message is None and time.monotonic() < deadline:
            polled = consumer.poll(0.5)
            if polled is not None and polled.error() is None:
                message = polled
        assert message is not None, "librdkafka consumer got nothing within 20s"
        assert (message.key(), message.value()) == (b"client-2", b"from-librdkafka")
        assert [(k, bytes(v)) for k, v in message.headers()] == HEADERS
    finally:
        consumer.close()


async def test_idempotence_fixture_matches_the_broker(kafka_bootstrap_servers: str, kafka_idempotence: bool) -> None:
    assert await supports_idempotence(kafka_bootstrap_servers) is kafka_idempotence


async def test_embedded_broker_lifecycle() -> None:
    broker = EmbeddedBroker()
    await broker.start()
    pid = broker.pid
    try:
        assert pid is not None
        assert await metadata_ping(broker.bootstrap_servers) == []  # memory-only: starts empty
        assert not await supports_idempotence(broker.bootstrap_servers)  # why KAFKA_ENABLE_IDEMPOTENCE=false
        await ensure_topics(broker.bootstrap_servers, ["lifecycle"], partitions=1)
        await _aiokafka_round_trip(broker.bootstrap_servers, "lifecycle", idempotence=False)
    finally:
        broker.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
