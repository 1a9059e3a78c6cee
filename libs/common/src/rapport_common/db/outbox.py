"""Transactional outbox: ``enqueue`` inside the caller's transaction, :class:`OutboxRelay` publishes.

One relay per database is active at a time (leader by advisory lock), so rows are published in id order.
It wakes on ``LISTEN rapport_outbox`` (a statement trigger notifies on insert) and polls as a fallback.
During a broker outage rows simply stay ``pending`` and are retried with backoff, first failure first.

Each event id reaches its topic once. A row's ``attempts`` is counted up before it is sent, so after a
crash between the broker's acknowledgement and the commit that marks it published, or after a publish
whose outcome is unknown (a timeout may still have been written), the rows that may be on the topic are
exactly the pending rows with ``attempts > 0``. Before sending those again, the relay reads their
partitions from the last position it recorded (``outbox_positions``) and marks the ones it finds as
published instead of sending them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from rapport_common.db.pool import TRANSIENT_DB_ERRORS
from rapport_common.events.codec import KafkaRecord, current_headers, encode_event
from rapport_common.events.envelope import CloudEvent
from rapport_common.kafka.producer import EventProducer, Published
from rapport_common.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

_RELAY_LOCK_KEY = 0x4F555442  # "OUTB"
# One statement for the whole batch (one round trip, one NOTIFY); ids follow the events' order.
_INSERT = """INSERT INTO outbox (event_id, event_type, topic, key, value, headers)
              SELECT event_id, event_type, topic, key, value, headers::jsonb
              FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::text[])
                   WITH ORDINALITY AS batch(event_id, event_type, topic, key, value, headers, position)
              ORDER BY position
              ON CONFLICT (event_id) DO NOTHING"""


async def enqueue(conn: asyncpg.Connection, events: Sequence[CloudEvent[Any]]) -> None:
    """Write ``events`` to the outbox. Must run inside the transaction that makes the state change."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must be called inside the state change's transaction")
    if not events:
        return
    records = [encode_event(event) for event in events]
    await conn.execute(
        _INSERT,
        [event.id for event in events],
        [event.type for event in events],
        [record.topic for record in records],
        [record.key for record in records],
        [record.value for record in records],
        [json.dumps([[name, value.decode()] for name, value in record.headers]) for record in records],
    )


class _TopicUnreadable(Exception):
    """The broker could not be read to reconcile (not a database error: the relay keeps its leadership)."""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: EventProducer,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._service = service
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_leader = False
        self._gauge_at = 0.0
        #: set when rows may be on the topic without being marked published (see the module docstring)
        self._uncertain = True

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Run until :meth:`stop`: win leadership, then publish; reconnect after database failures."""
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                async with self._pool.acquire() as conn:
                    await self._lead(conn)
                backoff = 0.1
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("outbox relay lost the database", extra={"reason": type(exc).__name__})
                self.is_leader = False
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
            except Exception as exc:  # a relay that dies silently strands every later event: log, retry
                log.exception("outbox relay failed; retrying", extra={"reason": type(exc).__name__})
                self.is_leader = False
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK_KEY):
            if await self._sleep(self._poll_interval_s):
                return
        self.is_leader = True
        self._uncertain = True  # a previous leader may have died between publishing and marking
        await conn.add_listener("rapport_outbox", self._on_notify)
        try:
            await self._publish_loop(conn)
        finally:
            self.is_leader = False
            try:
                await conn.remove_listener("rapport_outbox", self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK_KEY)
            except Exception:  # never hand a connection that may still hold the lock back to the pool
                conn.terminate()

    async def _publish_loop(self, conn: asyncpg.Connection) -> None:
        backoff = 0.05
        while not self._stopping.is_set():
            self._wake.clear()
            published, pending_left = await self.publish_once(conn)
            if pending_left and published == 0:
                await self._sleep(backoff)  # broker trouble: back off, keep order, retry first failure first
                backoff = min(backoff * 2, self._max_backoff_s)
            elif not pending_left:
                backoff = 0.05
                await self._wait_for_work()

    async def publish_once(self, conn: asyncpg.Connection) -> tuple[int, bool]:
        """Publish one batch of pending rows; returns (rows published, whether rows remain pending)."""
        rows = await conn.fetch(
            "SELECT id, event_id, topic, key, value, headers, attempts FROM outbox WHERE state = 'pending' "
            "ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            OUTBOX_PENDING.labels(self._service).set(0)
            return 0, False
        found_on_topic = 0
        if self._uncertain:
            try:
                rows, found_on_topic = await self._reconcile(conn, rows)
            except _TopicUnreadable as exc:  # sending now could duplicate: wait and retry
                log.warning("outbox reconciliation failed", extra={"reason": str(exc)})
                return 0, True
            self._uncertain = False
        records = [
            KafkaRecord(
                topic=row["topic"],
                key=bytes(row["key"]),
                value=bytes(row["value"]),
                # rows enqueued before v1.1 hold the old routing headers: published with the current names
                headers=current_headers([(name, value.encode()) for name, value in _headers(row["headers"])]),
            )
            for row in rows
        ]
        await conn.execute(
            "UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
        )
        try:
            result = await self._producer.publish_tracked(records)
        except Exception as exc:  # metadata unavailable etc.: nothing was published
            log.warning("outbox publish failed", extra={"count": len(rows), "reason": type(exc).__name__})
            result = Published(acked=[False] * len(rows))
        done = [row["id"] for row, ok in zip(rows, result.acked, strict=True) if ok]
        failed = [row["id"] for row, ok in zip(rows, result.acked, strict=True) if not ok]
        if failed:
            self._uncertain = True  # a batch that timed out may still have been written
        await self._mark(conn, done, failed, result.positions)
        for row, ok in zip(rows, result.acked, strict=True):
            if ok:
                OUTBOX_PUBLISHED.labels(self._service, row["topic"]).inc()
        now = asyncio.get_running_loop().time()
        if now - self._gauge_at >= 1.0:  # counting pending rows is O(backlog): at most once a second
            self._gauge_at = now
            OUTBOX_PENDING.labels(self._service).set(
                await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
            )
        return len(done) + found_on_topic, bool(failed) or len(rows) + found_on_topic == self._batch_size

    async def _mark(
        self, conn: asyncpg.Connection, done: list[int], failed: list[int], positions: dict[tuple[str, int], int]
    ) -> None:
        async with conn.transaction():
            if done:
                await conn.execute(
                    "UPDATE outbox SET state = 'published', published_at = now() WHERE id = ANY($1::bigint[])",
                    done,
                )
            if failed:
                await conn.execute(
                    "UPDATE outbox SET last_error = 'publish failed' WHERE id = ANY($1::bigint[])",
                    failed,
                )
            if positions:
                await conn.execute(
                    """INSERT INTO outbox_positions (topic, partition, "offset")
                       SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
                       ON CONFLICT (topic, partition) DO UPDATE
                       SET "offset" = GREATEST(outbox_positions."offset", EXCLUDED."offset"), updated_at = now()""",
                    [topic for topic, _ in positions],
                    [partition for _, partition in positions],
                    list(positions.values()),
                )

    async def _reconcile(
        self, conn: asyncpg.Connection, rows: list[asyncpg.Record]
    ) -> tuple[list[asyncpg.Record], int]:
        """Mark the attempted rows already on their topic as published; returns the rows still to send."""
        attempted = [row for row in rows if row["attempts"] > 0]
        if not attempted:
            return rows, 0
        by_partition: dict[tuple[str, int], list[asyncpg.Record]] = {}
        try:
            for row in attempted:
                partition = await self._producer.partition_for(row["topic"], bytes(row["key"]))
                by_partition.setdefault((row["topic"], partition), []).append(row)
        except Exception as exc:
            raise _TopicUnreadable(type(exc).__name__) from exc
        stored = {
            (r["topic"], r["partition"]): r["offset"]
            for r in await conn.fetch(
                'SELECT topic, partition, "offset" FROM outbox_positions WHERE topic = ANY($1::text[])',
                list({topic for topic, _ in by_partition}),
            )
        }
        on_topic: set[str] = set()
        for (topic, partition), members in by_partition.items():
            try:
                async with asyncio.timeout(30):
                    ids = await self._producer.event_ids_since(topic, partition, stored.get((topic, partition), 0))
            except Exception as exc:  # broker errors and timeouts, including OSError/TimeoutError
                raise _TopicUnreadable(type(exc).__name__) from exc
            on_topic |= {row["event_id"] for row in members} & ids
        if not on_topic:
            return rows, 0
        found = [row["id"] for row in attempted if row["event_id"] in on_topic]
        await conn.execute(
            "UPDATE outbox SET state = 'published', published_at = now(), last_error = 'found on topic' "
            "WHERE id = ANY($1::bigint[])",
            found,
        )
        log.info("outbox rows found on their topic after a crash", extra={"count": len(found)})
        return [row for row in rows if row["event_id"] not in on_topic], len(found)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on stop; returns True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()


def _headers(raw: Any) -> list[tuple[str, str]]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return [(str(name), str(val)) for name, val in value]
