"""Reading topics by hand (tools, checks, tests): which partitions a topic has.

An ``AIOKafkaConsumer`` without a subscription holds no metadata for a topic on Apache Kafka: its metadata
requests name only the topics it tracks (none), so ``partitions_for_topic`` answers None there, while Tansu
answered every request with every topic. Ask the cluster once instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition


async def topic_partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` (topics the cluster does not have are left out), from fresh metadata."""
    cluster = await consumer._client.fetch_all_metadata()
    return [TopicPartition(topic, p) for topic in topics for p in sorted(cluster.partitions_for_topic(topic) or ())]
