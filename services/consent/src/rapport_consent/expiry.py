"""Background job: record consents whose validity ended as expired, with a ledger entry and
`rapport.consent.expired`, all in one transaction per batch."""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg

from rapport_common.db import outbox
from rapport_common.service import ServiceRuntime
from rapport_common.workers import PollingWorker
from rapport_consent import events
from rapport_consent.store import consents as store
from rapport_consent.store import ledger

log = logging.getLogger(__name__)

JOB_ACTOR = "consent-expiry-job"


async def expire_due(pool: asyncpg.Pool, *, now: datetime, batch: int = 500) -> int:
    """Expire what is due at ``now``; returns how many consents were expired."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await store.due_expiries(conn, now, batch)
            if not due:
                return total
            mine = await store.insert_expiries(conn, [(row["consent_id"], row["valid_until"]) for row in due], now)
            rows = [row for row in due if row["consent_id"] in mine]
            await outbox.enqueue(
                conn,
                [events.expired(row["consent_id"], row["client_id"], row["scope"], row["valid_until"]) for row in rows],
            )
            await ledger.append(
                conn,
                [
                    ledger.NewEntry(
                        actor_id=JOB_ACTOR,
                        actor_role="system",
                        action="consent.expired",
                        channel="expiry-job",
                        client_id=row["client_id"],
                        scope=row["scope"],
                        consent_id=row["consent_id"],
                        reason="validity ended",
                        details={"expired_at": row["valid_until"]},
                    )
                    for row in rows
                ],
            )
            total += len(rows)
            if len(due) < batch:
                return total


async def _expire_round(runtime: ServiceRuntime) -> None:
    count = await expire_due(runtime.pool, now=runtime.clock.now(), batch=runtime.settings.consent_expiry_batch)
    if count:
        log.info("consents expired", extra={"count": count})


def expiry_worker(runtime: ServiceRuntime) -> PollingWorker:
    """Expires due consents every ``consent_expiry_interval_s``; database outages are waited out."""
    return PollingWorker(
        "consent-expiry", lambda: _expire_round(runtime), poll_s=runtime.settings.consent_expiry_interval_s
    )
