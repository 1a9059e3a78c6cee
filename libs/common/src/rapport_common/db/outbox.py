"""Transactional outbox: ``enqueue`` inside the caller's transaction, :class:`OutboxRelay` publishes.

One relay per database is active at a time (leader by advisory lock), so rows are published in id order.
It wakes on ``LISTEN rapport_outbox`` (a statement trigger notifies on insert) and polls as a fallback.
During a broker outage rows simply stay ``pending`` and are retried with backoff, first failure first.
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
from rapport_common.events.codec import KafkaRecord, encode_event
from rapport_common.events.envelope import CloudEvent
from rapport_common.kafka.producer import EventProducer
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

    async def _lead(self, conn: asyncpg.Connection) -> None:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK_KEY):
            if await self._sleep(self._poll_interval_s):
                return
        self.is_leader = True
        await conn.add_listener("rapport_outbox", self._on_notify)
        try:
            await self._publish_loop(conn)
        finally:
            self.is_leader = False
            with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                await conn.remove_listener("rapport_outbox", self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK_KEY)

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
            "SELECT id, topic, key, value, headers FROM outbox WHERE state = 'pending' ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            OUTBOX_PENDING.labels(self._service).set(0)
            return 0, False
        records = [
            KafkaRecord(
                topic=row["topic"],
                key=bytes(row["key"]),
                value=bytes(row["value"]),
                headers=[(name, value.encode()) for name, value in _headers(row["headers"])],
            )
            for row in rows
        ]
        try:
            acked = await self._producer.publish(records)
        except Exception as exc:  # metadata unavailable etc.: nothing was published
            log.warning("outbox publish failed", extra={"count": len(rows), "reason": type(exc).__name__})
            acked = [False] * len(rows)
        done = [row["id"] for row, ok in zip(rows, acked, strict=True) if ok]
        failed = [row["id"] for row, ok in zip(rows, acked, strict=True) if not ok]
        async with conn.transaction():
            if done:
                await conn.execute(
                    "UPDATE outbox SET state = 'published', published_at = now(), attempts = attempts + 1 "
                    "WHERE id = ANY($1::bigint[])",
                    done,
                )
            if failed:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = 'publish failed' "
                    "WHERE id = ANY($1::bigint[])",
                    failed,
                )
        for row, ok in zip(rows, acked, strict=True):
            if ok:
                OUTBOX_PUBLISHED.labels(self._service, row["topic"]).inc()
        now = asyncio.get_running_loop().time()
        if now - self._gauge_at >= 1.0:  # counting pending rows is O(backlog): at most once a second
            self._gauge_at = now
            OUTBOX_PENDING.labels(self._service).set(
                await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
            )
        return len(done), bool(failed) or len(rows) == self._batch_size

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
