"""The event-time consumer on a real broker: a backlog of co-partitioned topics published one topic after the
other reaches the handler in event-time order per partition; a restart in the middle skips and repeats
nothing; a live record on a caught-up, idle group is not held back."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from rapport_common.events import encode_event
from rapport_common.events.examples import EXAMPLES
from rapport_common.kafka.consumer import ConsumedEvent
from rapport_common.kafka.event_time_consumer import EventTimeConsumer
from rapport_common.kafka.producer import EventProducer

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TEMPLATE = EXAMPLES["rapport.session.started"]


def order(consumed: ConsumedEvent) -> tuple[Any, ...]:
    return consumed.event.time, consumed.topic


def records(topic: str, clients: int, per_client: int, rnd: random.Random) -> list[Any]:
    """``per_client`` events for each client, the topic's records in event-time order (minutes apart)."""
    timed = [
        (T0 + timedelta(minutes=rnd.randint(0, 10_000)), f"c{c}") for c in range(clients) for _ in range(per_client)
    ]
    out = []
    for i, (at, subject) in enumerate(sorted(timed)):
        event = TEMPLATE.model_copy(update={"id": f"{topic}-{i}", "subject": subject, "time": at})
        r = encode_event(event)
        out.append(r.__class__(topic, r.key, r.value, r.headers))
    return out


def consumer(topics: list[str], group: str, bootstrap: str, producer: EventProducer, handle: Any) -> EventTimeConsumer:
    return EventTimeConsumer(
        merged=topics,
        order=order,
        service="test",
        group_id=group,
        topics=topics,
        bootstrap_servers=bootstrap,
        handler=handle,
        dead_letters=producer,
        session_timeout_ms=6000,
        max_records=100,
        max_held_per_partition=300,
    )


async def run_until(c: EventTimeConsumer, done: Any, timeout_s: float = 90) -> None:
    await c.start()
    task = asyncio.create_task(c.run())
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                await asyncio.sleep(0.05)
    finally:
        c.stop()
        await task
        await c.close()


def assert_event_time_order(handled: list[ConsumedEvent]) -> None:
    for p in {c.partition for c in handled}:
        got = [order(c) for c in handled if c.partition == p]
        assert got == sorted(got), f"partition {p} out of event-time order"


async def test_a_backlog_published_topic_by_topic_is_handled_in_event_time_order_across_a_restart(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    topics = await make_topics(["intake", "session", "feedback"], partitions=3)
    rnd = random.Random(7)
    published = 0
    for topic in reversed(topics):  # the last topic's whole backlog first: arrival order is the worst one
        batch = records(topic, clients=40, per_client=15, rnd=rnd)
        assert all(await producer.publish(batch))
        published += len(batch)
    group = f"g-{topics[0]}"
    first_run: list[ConsumedEvent] = []
    second_run: list[ConsumedEvent] = []

    async def handle_first(batch: list[ConsumedEvent]) -> None:
        first_run.extend(batch)

    async def handle_second(batch: list[ConsumedEvent]) -> None:
        second_run.extend(batch)

    c1 = consumer(topics, group, kafka_bootstrap_servers, producer, handle_first)
    await run_until(c1, lambda: len(first_run) >= published // 3)
    c2 = consumer(topics, group, kafka_bootstrap_servers, producer, handle_second)
    await run_until(c2, lambda: len(first_run) + len(second_run) >= published)
    await asyncio.sleep(1)  # nothing more arrives: no record is handled twice

    ids = [c.event.id for c in first_run + second_run]
    assert len(ids) == len(set(ids)) == published
    # the restart kept the order too; without the merge (merged=[]) this fails: the feedback backlog,
    # published first, comes first (mutation-checked)
    assert_event_time_order(first_run + second_run)


async def test_a_live_record_on_a_caught_up_idle_group_is_not_held_back(
    producer: EventProducer, kafka_bootstrap_servers: str, make_topics: Any
) -> None:
    topics = await make_topics(["intake", "session", "feedback"], partitions=2)
    handled: list[ConsumedEvent] = []

    async def handle(batch: list[ConsumedEvent]) -> None:
        handled.extend(batch)

    c = consumer(topics, f"g-{topics[0]}", kafka_bootstrap_servers, producer, handle)
    await c.start()
    task = asyncio.create_task(c.run())
    try:
        async with asyncio.timeout(30):
            while not c.caught_up_at:  # every partition read to its (empty) end
                await asyncio.sleep(0.05)
        live = records(topics[1], clients=1, per_client=1, rnd=random.Random(1))
        assert all(await producer.publish(live))
        async with asyncio.timeout(30):
            while not handled:
                await asyncio.sleep(0.01)
    finally:
        c.stop()
        await task
        await c.close()
    # released although the other topics received nothing: their caught-up partitions do not hold it
    assert [c.event.id for c in handled] == [f"{topics[1]}-0"]
