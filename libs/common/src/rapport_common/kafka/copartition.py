"""A group assignor that keeps partition ``p`` of every subscribed topic on one member (co-partitioning).

A consumer that merges co-partitioned topics by event time (:mod:`rapport_common.kafka.event_time_consumer`)
needs all of a partition number's partitions in one place: their records concern the same keys. aiokafka's
default round-robin assignor spreads a topic's partitions over members independently of the others, so
partition 2 of one topic and partition 2 of another can land on different instances. Here the partition
numbers are dealt out to the members (sorted by member id, so every member computes the same answer), and a
member gets each of its numbers on every topic it subscribes to (members of one deployment subscribe alike).

Topics must have equal partition counts (:func:`unequal_partition_counts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata


def deal_partitions(
    members: Mapping[str, Iterable[str]], partitions_of: Mapping[str, Iterable[int]]
) -> dict[str, dict[str, list[int]]]:
    """member -> topic -> partitions. A topic's ``i``-th partition goes to the ``i % n``-th of its ``n``
    subscribers in id order, so topics with the same subscribers and partition counts give each member the same
    partition numbers; a member that does not subscribe to a topic never takes a share of it."""
    subscribed = {member: set(topics) for member, topics in members.items()}
    out: dict[str, dict[str, list[int]]] = {member: {} for member in sorted(members)}
    for topic, parts in sorted(partitions_of.items()):
        subscribers = sorted(member for member, topics in subscribed.items() if topic in topics)
        for i, number in enumerate(sorted(parts)):
            if subscribers:
                out[subscribers[i % len(subscribers)]].setdefault(topic, []).append(number)
    return out


def unequal_partition_counts(counts: Mapping[str, int]) -> str | None:
    """A message naming the topics when their partition counts differ (None when they are equal)."""
    if len(set(counts.values())) <= 1:
        return None
    listed = ", ".join(f"{topic} has {n}" for topic, n in sorted(counts.items()))
    return f"co-partitioned topics need equal partition counts: {listed}"


class CoPartitionedAssignor(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka ships no type hints
    name = "rapport-copartitioned"
    version = 0

    @classmethod
    def assign(
        cls, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        subscriptions = {member: list(meta.subscription) for member, meta in members.items()}
        topics = {topic for subscribed in subscriptions.values() for topic in subscribed}
        partitions_of = {topic: sorted(cluster.partitions_for_topic(topic) or ()) for topic in topics}
        dealt = deal_partitions(subscriptions, partitions_of)
        return {
            member: ConsumerProtocolMemberAssignment(cls.version, sorted(dealt.get(member, {}).items()), b"")
            for member in members
        }

    @classmethod
    def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(cls.version, list(topics), b"")

    @classmethod
    def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
        return None
