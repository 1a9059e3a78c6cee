"""A group assignor that keeps partition ``p`` of every subscribed topic on one member (co-partitioning).

A consumer that merges co-partitioned topics by event time (:mod:`rapport_common.kafka.event_time_consumer`)
needs all of a partition number's partitions in one place: their records concern the same keys. aiokafka's
default round-robin assignor spreads a topic's partitions over members independently of the others, so
partition 2 of one topic and partition 2 of another can land on different instances. Here the partition
numbers are dealt out to the members (sorted by member id, so every member computes the same answer), and a
member gets each of its numbers on every topic it subscribes to.

Topics must have equal partition counts (:func:`unequal_partition_counts`); a number some topic lacks is
still assigned with the topics that have it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata


def deal_partitions(
    members: Mapping[str, Iterable[str]], partitions_of: Mapping[str, Iterable[int]]
) -> dict[str, dict[str, list[int]]]:
    """member -> topic -> partitions: number ``n`` of the union of partition numbers goes to the
    ``n % len(members)``-th member in id order, on every topic that member subscribes to and that has it."""
    ordered = sorted(members)
    numbers = sorted({p for parts in partitions_of.values() for p in parts})
    has = {topic: set(parts) for topic, parts in partitions_of.items()}
    out: dict[str, dict[str, list[int]]] = {member: defaultdict(list) for member in ordered}
    if not ordered:
        return {}
    for i, number in enumerate(numbers):
        member = ordered[i % len(ordered)]
        for topic in sorted(set(members[member])):
            if number in has.get(topic, ()):
                out[member][topic].append(number)
    return {member: dict(topics) for member, topics in out.items()}


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
