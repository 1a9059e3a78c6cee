"""Outbox -> relay -> topic -> consumer with inbox: nothing lost, nothing duplicated, per-client order kept,
including across a broker pause (SIGSTOP) in the middle of the run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from rapport_common.db import inbox, outbox
from rapport_common.db.outbox import OutboxRelay
from rapport_common.events import new_event
from rapport_common.events.session import MessageSent, MessageSentData
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.kafka.producer import EventProducer

CLIENTS = 40
PER_CLIENT = 250  # 10,000 events in all
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _events(run: str) -> list[Any]:
    """Round-robin over clients so each transaction mixes clients; event id carries (client, seq)."""
    events = []
    for seq in range(PER_CLIENT):
        for c in range(CLIENTS):
            client = f"{run}-client-{c}"
            events.append(
                new_event(
                    MessageSent,
                    subject=client,
                    source="/rapport/session",  # the owner of session.events
                    event_id=f"{client}:{seq:05d}",
                    time=T0 + timedelta(seconds=seq),
                    data=MessageSentData(
                        message_id=f"m-{seq}",
                        client_id=client,
                        clinician_id="clin-1",
                        sender="client",
                        sent_at=T0 + timedelta(seconds=seq),
                        flags=[],
                    ),
                )
            )
    return events


class Sink:
    """Consumer handler: inbox + effects in one transaction; remembers every delivery it saw."""

    def __init__(self, pool: asyncpg.Pool, run: str) -> None:
        self.pool = pool
        self.run = run
        self.deliveries: Counter[str] = Counter()

    async def handle(self, batch: list[ConsumedEvent]) -> None:
        mine = [c.event for c in batch if c.event.subject.startswith(self.run)]
        for event in mine:
            self.deliveries[event.id] += 1
        async with self.pool.acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, "pipeline-test", [e.id for e in mine])
            rows = [(e.id, e.subject, int(e.id.rsplit(":", 1)[1])) for e in mine if e.id in new]
            await conn.executemany("INSERT INTO effects (event_id, client, seq) VALUES ($1, $2, $3)", rows)


async def _run_pipeline(pool: asyncpg.Pool, producer: EventProducer, bootstrap: str, pause: Any = None) -> None:
    run = f"run{uuid.uuid4().hex[:8]}"
    await pool.execute(
        "CREATE TABLE effects (arrival bigserial, event_id text PRIMARY KEY, client text NOT NULL, seq int NOT NULL)"
    )
    sink = Sink(pool, run)
    consumer = BatchConsumer(
        service="test",
        group_id=f"g-{run}",
        topics=["session.events"],
        bootstrap_servers=bootstrap,
        handler=sink.handle,
        dead_letters=producer,
        session_timeout_ms=6000,
    )
    relay = OutboxRelay(pool, producer, service="test", batch_size=500, poll_interval_s=0.2, max_backoff_s=1.0)
    await consumer.start()
    tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
    events = _events(run)
    try:
        for start in range(0, len(events), 100):  # 100 transactions of 100 state changes each
            async with pool.acquire() as conn, conn.transaction():
                await outbox.enqueue(conn, events[start : start + 100])
            if pause is not None and start == 3000:
                pause_task = asyncio.create_task(pause())
        if pause is not None:
            await pause_task
        async with asyncio.timeout(120):
            while await pool.fetchval("SELECT count(*) FROM effects") < len(events):
                await asyncio.sleep(0.2)
    finally:
        consumer.stop()
        relay.stop()
        await asyncio.wait(tasks, timeout=10)
        await consumer.close()

    assert await pool.fetchval("SELECT count(*) FROM effects") == len(events)
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE state <> 'published'") == 0
    assert set(sink.deliveries) == {e.id for e in events}, "every event reached the consumer"
    duplicated = {event_id: n for event_id, n in sink.deliveries.items() if n != 1}
    assert not duplicated, f"{len(duplicated)} events delivered more than once"
    order: dict[str, list[int]] = defaultdict(list)
    for row in await pool.fetch("SELECT client, seq FROM effects ORDER BY arrival"):
        order[row["client"]].append(row["seq"])
    assert len(order) == CLIENTS
    for client, seqs in order.items():
        assert seqs == sorted(seqs), f"{client}'s events arrived out of order"


async def test_ten_thousand_events_arrive_once_in_client_order(
    migrated_pool: asyncpg.Pool, producer: EventProducer, kafka_bootstrap_servers: str
) -> None:
    await _run_pipeline(migrated_pool, producer, kafka_bootstrap_servers)


async def test_broker_paused_five_seconds_mid_run_loses_nothing(
    migrated_pool: asyncpg.Pool, producer: EventProducer, kafka_bootstrap_servers: str, broker_control: Any
) -> None:
    async def pause() -> None:
        with broker_control.paused():
            await asyncio.sleep(5)

    await _run_pipeline(migrated_pool, producer, kafka_bootstrap_servers, pause=pause)


async def test_enqueue_outside_a_transaction_is_refused(migrated_pool: asyncpg.Pool) -> None:
    event = _events("x")[0]
    async with migrated_pool.acquire() as conn:
        with contextlib.suppress(RuntimeError):
            await outbox.enqueue(conn, [event])
            raise AssertionError("enqueue outside a transaction must raise")
    assert await migrated_pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_rolled_back_state_change_publishes_nothing(migrated_pool: asyncpg.Pool) -> None:
    event = _events("rb")[0]
    with contextlib.suppress(ZeroDivisionError):
        async with migrated_pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, [event])
            _ = 1 / 0  # the state change fails after the event was written
    assert await migrated_pool.fetchval("SELECT count(*) FROM outbox") == 0
