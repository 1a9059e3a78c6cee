"""Idempotent consumer: claim event ids in the same transaction as their effects.

``claim`` returns the ids not seen before by this consumer; the caller applies effects only for those. If
the transaction rolls back, the claim rolls back with it, so a crash before commit reprocesses cleanly and
a redelivery after commit has no second effect.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, event_ids: Iterable[str]) -> set[str]:
    """Record ``event_ids`` as processed by ``consumer``; returns those that were new."""
    if not conn.is_in_transaction():
        raise RuntimeError("inbox.claim must be called inside the effects' transaction")
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    rows = await conn.fetch(
        """INSERT INTO inbox (consumer, event_id)
           SELECT $1, unnest($2::text[])
           ON CONFLICT DO NOTHING
           RETURNING event_id""",
        consumer,
        ids,
    )
    return {row["event_id"] for row in rows}
