"""Interoperability with a third-party Kafka client (confluent-kafka, librdkafka from PyPI)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from confluent_kafka import Consumer, Producer

from rapport_common.events import CONTENT_TYPE, KafkaRecord, decode_event, encode_event
from rapport_common.events.examples import EXAMPLES
from rapport_common.kafka.consumer import ConsumedEvent
from rapport_common.kafka.producer import EventProducer
from tests.common.kafka.consumer_harness import create_topics, running_consumer, wait_until


async def test_cloudevent_from_librdkafka_is_consumed_and_validated(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    [topic] = await make_topics(["from-librdkafka"], partitions=3)
    await create_topics(kafka_bootstrap_servers, [f"{topic}.dlq"])
    event = EXAMPLES["rapport.session.telemetry"]
    envelope = json.loads(encode_event(event).value)
    outside = Producer({"bootstrap.servers": kafka_bootstrap_servers, "enable.idempotence": False})
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    outside.produce(
        topic,
        key=event.subject.encode(),
        value=json.dumps(envelope).encode(),
        headers=[("content-type", CONTENT_TYPE.encode()), ("traceparent", traceparent.encode())],
    )
    assert await asyncio.to_thread(outside.flush, 10) == 0

    seen: list[ConsumedEvent] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        seen.extend(batch)

    async with running_consumer(kafka_bootstrap_servers, topic, producer, handle):
        await wait_until(lambda: len(seen) == 1)
    [consumed] = seen
    assert consumed.event.model_dump(exclude={"traceparent"}) == event.model_dump(exclude={"traceparent"})
    assert consumed.event.traceparent == traceparent, "trace context taken from the Kafka header"


async def test_records_we_produce_are_read_by_librdkafka_with_headers(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    [topic] = await make_topics(["to-librdkafka"], partitions=3)
    event = EXAMPLES["rapport.feedback.srs-submitted"].model_copy(
        update={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    )
    record = encode_event(event)
    assert await producer.publish([KafkaRecord(topic, record.key, record.value, record.headers)]) == [True]

    def read_one() -> Any:
        reader = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap_servers,
                "group.id": f"librdkafka-{topic}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        reader.subscribe([topic])
        try:
            for _ in range(100):
                message = reader.poll(0.5)
                if message is not None and message.error() is None:
                    return message
            raise AssertionError("librdkafka read nothing")
        finally:
            reader.close()

    message = await asyncio.to_thread(read_one)
    headers = {k: v.decode() for k, v in message.headers()}
    assert message.key() == event.subject.encode()
    assert headers["content-type"] == CONTENT_TYPE
    assert headers["traceparent"] == event.traceparent
    assert headers["ce_type"] == "rapport.feedback.srs-submitted"
    assert decode_event(message.value(), message.headers()) == event
