"""The Rapport event contract (../shared/EVENTS.md) in code.

Every Kafka record value is a CloudEvents 1.0 envelope in structured JSON mode. Each event type has its
own envelope class whose ``type`` is a literal and whose ``data`` is a strict payload model, so one
discriminated union (:data:`AnyEvent`) validates any record and names the failing field.
"""

from rapport_common.events.catalog import (
    EVENT_CLASSES,
    TOPIC_OF_TYPE,
    TOPICS,
    AnyEvent,
    event_class_for,
)
from rapport_common.events.codec import (
    CONTENT_TYPE,
    EventDecodeError,
    KafkaRecord,
    decode_event,
    encode_event,
)
from rapport_common.events.envelope import CloudEvent, new_event

__all__ = [
    "CONTENT_TYPE",
    "EVENT_CLASSES",
    "TOPICS",
    "TOPIC_OF_TYPE",
    "AnyEvent",
    "CloudEvent",
    "EventDecodeError",
    "KafkaRecord",
    "decode_event",
    "encode_event",
    "event_class_for",
    "new_event",
]
