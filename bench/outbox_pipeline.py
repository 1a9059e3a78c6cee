"""Benchmark: outbox -> relay -> topic -> validating consumer with inbox, against the raw broker rate.

    .venv/bin/python bench/outbox_pipeline.py [--events 20000] [--clients 200]

Starts a private embedded PostgreSQL and Tansu broker (or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), then
measures in one run: (1) the raw broker rate: the same records produced in batches and read back with a plain
consumer, no decoding, no database; (2) the full pipeline: events written to the outbox in transactions of
500, published by the relay, consumed, validated, and applied with an inbox claim in one transaction per
batch. Prints and writes ``bench-results/outbox_pipeline.md`` and records the run for docs/performance.md
(``bench/performance_doc.py``); the ratio is the figure to compare across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rapport_common.db import inbox, outbox
from rapport_common.db.migrations import apply_migrations
from rapport_common.db.outbox import OutboxRelay
from rapport_common.db.pool import create_pool
from rapport_common.events import KafkaRecord, encode_event, new_event
from rapport_common.events.session import SessionTelemetry, TelemetryData
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.kafka.producer import EventProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.performance_doc import begin_run

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def make_events(count: int, clients: int, run: str) -> list[SessionTelemetry]:
    events = []
    for i in range(count):
        client = f"{run}-c{i % clients}"
        start = T0 + timedelta(minutes=i // clients)
        events.append(
            new_event(
                SessionTelemetry,
                subject=client,
                source="/rapport/session",  # the owner of session.events
                time=start,
                data=TelemetryData(
                    session_id=f"s-{client}",
                    client_id=client,
                    clinician_id="k",
                    window_start=start,
                    window_end=start + timedelta(minutes=1),
                    client_talk_ratio=0.4,
                    client_camera_on_ratio=1.0,
                    longest_silence_s=12.0,
                ),
            )
        )
    return events


async def raw_rate(bootstrap: str, events: list[SessionTelemetry]) -> float:
    topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    producer = EventProducer(bootstrap, enable_idempotence=False)
    await producer.start()
    records = [KafkaRecord(topic, r.key, r.value, r.headers) for r in map(encode_event, events)]
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await reader.start()
    started = time.perf_counter()
    for i in range(0, len(records), 500):
        assert all(await producer.publish(records[i : i + 500]))
    seen = 0
    while seen < len(records):
        seen += sum(len(b) for b in (await reader.getmany(timeout_ms=100, max_records=1000)).values())
    elapsed = time.perf_counter() - started
    await reader.stop()
    await producer.stop()
    return len(records) / elapsed


async def pipeline_rate(bootstrap: str, database_url: str, events: list[SessionTelemetry]) -> tuple[float, float]:
    conn = await asyncpg.connect(database_url)
    await apply_migrations(conn, "bench", None)
    await conn.execute("CREATE TABLE IF NOT EXISTS effects (event_id text PRIMARY KEY, client text)")
    await conn.close()
    pool = await create_pool(database_url, max_size=6)
    producer = EventProducer(bootstrap, enable_idempotence=False)
    await producer.start()
    applied = 0

    async def handle(batch: list[ConsumedEvent]) -> None:
        nonlocal applied
        async with pool.acquire() as c, c.transaction():
            new = await inbox.claim(c, "bench", [e.event.id for e in batch])
            await c.executemany(
                "INSERT INTO effects VALUES ($1, $2)",
                [(e.event.id, e.event.subject) for e in batch if e.event.id in new],
            )
        applied += len(new)

    consumer = BatchConsumer(
        service="bench",
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        topics=["session.events"],
        bootstrap_servers=bootstrap,
        handler=handle,
        dead_letters=producer,
        session_timeout_ms=6000,
    )
    relay = OutboxRelay(pool, producer, service="bench", batch_size=500, poll_interval_s=0.2)
    await consumer.start()
    tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
    while not consumer.assignment:
        await asyncio.sleep(0.05)
    started = time.perf_counter()
    for i in range(0, len(events), 500):
        async with pool.acquire() as c, c.transaction():
            await outbox.enqueue(c, events[i : i + 500])
    enqueued = time.perf_counter() - started
    while applied < len(events):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    consumer.stop()
    relay.stop()
    await asyncio.wait(tasks, timeout=10)
    await consumer.close()
    await producer.stop()
    await pool.close()
    return len(events) / elapsed, len(events) / enqueued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()
    run_start = begin_run()
    stack = []
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    tmp = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    if not bootstrap:
        from rapport_local.broker import EmbeddedBroker

        broker = EmbeddedBroker(log_path=tmp / "broker.log")
        broker.start_blocking()
        stack.append(broker.stop)
        bootstrap = broker.bootstrap_servers
    if not database_url:
        from rapport_local.postgres import EmbeddedPostgres

        pg = EmbeddedPostgres(tmp / "pg")
        pg.start()
        stack.append(pg.stop)
        database_url = pg.url()
    try:
        run = uuid.uuid4().hex[:6]
        raw = asyncio.run(raw_rate(bootstrap, make_events(args.events, args.clients, run + "r")))
        full, enqueue = asyncio.run(pipeline_rate(bootstrap, database_url, make_events(args.events, args.clients, run)))
    finally:
        for stop in reversed(stack):
            stop()
    report = (
        f"# Outbox pipeline benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.events} events, "
        f"{args.clients} clients)\n\n"
        f"| measure | events/s | vs raw broker |\n|---|---:|---:|\n"
        f"| raw broker: batch produce + plain consume (baseline) | {raw:,.0f} | 1.00 |\n"
        f"| outbox write (transactions of 500) | {enqueue:,.0f} | {enqueue / raw:.2f} |\n"
        f"| outbox -> relay -> topic -> consumer + inbox, end to end | {full:,.0f} | {full / raw:.2f} |\n"
    )
    out = Path(__file__).resolve().parent.parent / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "outbox_pipeline.md").write_text(report)
    infra = "KAFKA_BOOTSTRAP_SERVERS" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else "Tansu (embedded)"
    infra += ", DATABASE_URL" if os.environ.get("DATABASE_URL") else ", embedded PostgreSQL"
    run_start.save(name="outbox_pipeline", title="Outbox pipeline", infra=infra, markdown=report)
    print(report)


if __name__ == "__main__":
    main()
