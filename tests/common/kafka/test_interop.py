"""Interoperability with outside readers: a third-party Kafka client (confluent-kafka, librdkafka from PyPI)
and the official CloudEvents SDK for Python, whose ``from_kafka`` detects the content mode from the headers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import cloudevents.v1.kafka as cloudevents_v1_kafka
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka, from_structured
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka import Consumer, Producer

from rapport_common.events import CONTENT_TYPE, KafkaRecord, decode_event, encode_event
from rapport_common.events.catalog import EVENT_CLASSES
from rapport_common.events.examples import EXAMPLES
from rapport_common.kafka.consumer import ConsumedEvent
from rapport_common.kafka.producer import EventProducer
from tests.common.kafka.consumer_harness import create_topics, read_all, running_consumer, wait_until


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
    assert headers["rapport-type"] == "rapport.feedback.srs-submitted"
    assert decode_event(message.value(), message.headers()) == event


async def test_every_event_type_parses_with_the_cloudevents_sdk_from_the_topic(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    """EVENTS.md v1.1: structured mode only, so the SDK's auto-detecting ``from_kafka`` reads every record as
    structured (a ``ce_`` header would make it read binary mode and fail), and so does ``from_structured``."""
    [topic] = await make_topics(["cloudevents-sdk"], partitions=3)
    events = {cls.event_type(): EXAMPLES[cls.event_type()] for cls in EVENT_CLASSES}
    records = [encode_event(event) for event in events.values()]
    acked = await producer.publish([KafkaRecord(topic, r.key, r.value, r.headers) for r in records])
    assert all(acked)

    consumed = await read_all(kafka_bootstrap_servers, topic, expected=len(records))
    assert len(consumed) == len(events)
    parsed: set[str] = set()
    for record in consumed:
        headers = list(record.headers)  # type: ignore[attr-defined]
        assert not [name for name, _ in headers if name.lower().startswith("ce_")], headers
        message = KafkaMessage(headers=dict(headers), key=record.key, value=record.value)  # type: ignore[attr-defined]
        event = events[dict(headers)["rapport-type"].decode()]
        expected_data = json.loads(event.model_dump_json())["data"]
        for read in (from_kafka, from_structured):
            sdk_event = read(message, JSONFormat())
            got = (sdk_event.get_id(), sdk_event.get_type(), sdk_event.get_source(), sdk_event.get_subject())
            assert got == (event.id, event.type, event.source, event.subject), read.__name__
            assert sdk_event.get_time() == event.time, read.__name__
            assert sdk_event.get_data() == expected_data, read.__name__
            assert sdk_event.get_extension("traceparent") == event.traceparent
            assert sdk_event.get_extension("partitionkey") == event.subject  # the record key
        # the 1.x API, still shipped in 2.x, has no auto-detection; its from_structured reads them too
        legacy = cloudevents_v1_kafka.from_structured(
            cloudevents_v1_kafka.KafkaMessage(headers=dict(headers), key=message.key, value=message.value)
        )
        assert (legacy["id"], legacy["type"], legacy["source"], legacy["subject"]) == got
        assert legacy.data == expected_data
        parsed.add(event.type)
    assert parsed == set(events), "every contract event type was read back and parsed"


def test_the_pre_v1_1_routing_headers_made_the_sdk_read_binary_mode() -> None:
    """Why the routing headers were renamed: ``ce_type``/``ce_id`` alone made ``from_kafka`` take the record
    for binary mode, where ``source`` (and every other attribute) is missing."""
    record = encode_event(EXAMPLES["rapport.intake.clinician-assigned"])
    old = {"rapport-type": "ce_type", "rapport-id": "ce_id"}
    headers = {old.get(name, name): value for name, value in record.headers}
    with pytest.raises(CloudEventValidationError):
        from_kafka(KafkaMessage(headers=headers, key=record.key, value=record.value), JSONFormat())
