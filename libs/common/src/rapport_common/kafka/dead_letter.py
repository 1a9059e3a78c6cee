"""Dead-letter records: the original record untouched, plus headers saying why it was rejected.

Header values never carry payload data: only the reason code, the offending field's path and the
validator's message (pydantic messages do not echo the input).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rapport_common.events.catalog import dlq_topic
from rapport_common.events.codec import KafkaRecord

MAX_ERROR_CHARS = 300


def dead_letter_record(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    group: str,
    reason: str,
    field: str,
    error: str,
) -> KafkaRecord:
    """The ``<topic>.dlq`` record for a rejected record."""
    why = [
        ("dlq-reason", reason.encode()),
        ("dlq-field", field.encode()),
        ("dlq-error", error[:MAX_ERROR_CHARS].encode()),
        ("dlq-source-topic", topic.encode()),
        ("dlq-source-partition", str(partition).encode()),
        ("dlq-source-offset", str(offset).encode()),
        ("dlq-consumer-group", group.encode()),
        ("dlq-at", datetime.now(UTC).isoformat().encode()),
    ]
    original = [(name, data) for name, data in headers if not name.startswith("dlq-")]
    return KafkaRecord(topic=dlq_topic(topic), key=key or b"", value=value or b"", headers=original + why)
