"""Topics: the contract topics and DLQs exist with 6 partitions; ``make_topics`` and ``ensure_topics`` are
idempotent and never alter an existing topic."""

from __future__ import annotations

from typing import Any

from rapport_common.events import TOPICS
from rapport_common.events.catalog import dlq_topic
from rapport_local.topics import contract_topics, ensure_topics, partition_counts


def test_contract_topics_are_the_five_and_their_dlqs() -> None:
    names = contract_topics()
    assert names[:5] == list(TOPICS) and names[5:] == [dlq_topic(t) for t in TOPICS] and len(set(names)) == 10


async def test_session_has_contract_topics_with_six_partitions(kafka_bootstrap_servers: str) -> None:
    counts = await partition_counts(kafka_bootstrap_servers, contract_topics())
    assert counts == dict.fromkeys(contract_topics(), 6)


async def test_make_topics_creates_unique_six_partition_topics(kafka_bootstrap_servers: str, make_topics: Any) -> None:
    first = await make_topics(["intake.events", "session.events"], dlq=True)
    second = await make_topics(["intake.events"])
    assert first[0].endswith(".intake.events") and first[1].endswith(".session.events")
    assert second[0] not in first
    counts = await partition_counts(kafka_bootstrap_servers, [*first, *map(dlq_topic, first), *second])
    assert set(counts.values()) == {6} and len(counts) == 5


async def test_ensure_topics_is_idempotent_and_leaves_existing_topics_alone(
    kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    [topic] = await make_topics(["small"], partitions=2)
    assert await ensure_topics(kafka_bootstrap_servers, [topic], partitions=2) == {topic: 2}
    assert await ensure_topics(kafka_bootstrap_servers, [topic], partitions=6) == {topic: 2}  # warned, unchanged


async def test_partition_counts_does_not_create_missing_topics(kafka_bootstrap_servers: str) -> None:
    assert await partition_counts(kafka_bootstrap_servers, ["never-created-topic-x1"]) == {}
    assert await partition_counts(kafka_bootstrap_servers, ["never-created-topic-x1"]) == {}
