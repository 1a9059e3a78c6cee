"""Co-partitioned assignment: partition p of every topic on one member, with 1, 2 and 3 members (pure, then
on a real broker through a rebalance), and a consumer that refuses topics with unequal partition counts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rapport_common.kafka.consumer import ConsumedEvent
from rapport_common.kafka.copartition import deal_partitions, unequal_partition_counts
from rapport_common.kafka.event_time_consumer import EventTimeConsumer, UnequalPartitions
from rapport_common.kafka.producer import EventProducer

TOPICS = ("intake", "session", "feedback")


@given(st.integers(1, 5), st.integers(1, 12))
def test_every_number_goes_to_one_member_on_every_topic(members: int, partitions: int) -> None:
    subscriptions = {f"m{i}": list(TOPICS) for i in range(members)}
    dealt = deal_partitions(subscriptions, {topic: range(partitions) for topic in TOPICS})
    owner_of: dict[int, str] = {}
    for member, topics in dealt.items():
        numbers = [set(parts) for parts in topics.values()]
        assert all(n == numbers[0] for n in numbers), "a member's topics have different partition numbers"
        for number in numbers[0] if numbers else ():
            assert owner_of.setdefault(number, member) == member
    assert sorted(owner_of) == list(range(partitions))
    loads = [len(next(iter(topics.values()), [])) for topics in dealt.values()]
    assert max(loads) - min(loads) <= 1  # balanced by partition number


def test_a_member_subscribing_to_other_topics_takes_no_share_of_these() -> None:
    dealt = deal_partitions({"a": ["x", "y"], "b": ["idle"]}, {"x": range(4), "y": range(4), "idle": range(2)})
    assert dealt == {"a": {"x": [0, 1, 2, 3], "y": [0, 1, 2, 3]}, "b": {"idle": [0, 1]}}


def test_unequal_counts_are_named() -> None:
    assert unequal_partition_counts({"a": 6, "b": 6}) is None
    message = unequal_partition_counts({"a": 6, "b": 3})
    assert message == "co-partitioned topics need equal partition counts: a has 6, b has 3"


async def _noop(_: list[ConsumedEvent]) -> None:
    return None


def _consumer(topics: list[str], group: str, bootstrap: str, producer: EventProducer) -> EventTimeConsumer:
    return EventTimeConsumer(
        merged=topics,
        order=lambda c: (c.event.time,),
        service="test",
        group_id=group,
        topics=topics,
        bootstrap_servers=bootstrap,
        handler=_noop,
        dead_letters=producer,
        session_timeout_ms=6000,
    )


@pytest.mark.parametrize("instances", [1, 2, 3])
async def test_instances_of_a_group_each_get_whole_partition_numbers(
    instances: int, producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    # 5 partitions: with 6, round-robin over sorted partitions happens to line up for 1, 2 and 3 members
    topics = await make_topics(list(TOPICS), partitions=5)
    group = f"g-{topics[0]}"
    consumers = [_consumer(topics, group, kafka_bootstrap_servers, producer) for _ in range(instances)]
    tasks = []
    for c in consumers:
        await c.start()
        tasks.append(asyncio.create_task(c.run()))
    try:
        async with asyncio.timeout(60):
            while sum(len(c.assignment) for c in consumers) != 5 * len(topics) or any(
                not c.assignment for c in consumers
            ):
                await asyncio.sleep(0.1)
    finally:
        for c in consumers:
            c.stop()
        await asyncio.gather(*tasks)
        for c in consumers:
            await c.close()
    numbers_of = []
    for c in consumers:
        by_topic = {topic: {tp.partition for tp in c.assignment if tp.topic == topic} for topic in topics}
        assert len({frozenset(n) for n in by_topic.values()}) == 1, by_topic  # same numbers on every topic
        numbers_of.append(by_topic[topics[0]])
    assert sorted(n for numbers in numbers_of for n in numbers) == list(range(5))


async def test_a_consumer_refuses_topics_with_unequal_partition_counts(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    six = await make_topics(["session"], partitions=6)
    three = await make_topics(["feedback"], partitions=3)
    c = _consumer([*six, *three], f"g-{six[0]}", kafka_bootstrap_servers, producer)
    with pytest.raises(UnequalPartitions, match=rf"{three[0]} has 3, {six[0]} has 6|{six[0]} has 6"):
        await c.start()
