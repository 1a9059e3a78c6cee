"""In-app messages between a client and their clinician. The text stays here; events carry flags only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg


async def insert(
    conn: asyncpg.Connection,
    *,
    message_id: str,
    client_id: str,
    clinician_id: str,
    sender: str,
    body: str,
    flags: Sequence[str],
    scanned: bool,
    sent_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO messages (message_id, client_id, clinician_id, sender, body, flags, scanned, sent_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        message_id,
        client_id,
        clinician_id,
        sender,
        body,
        flags,
        scanned,
        sent_at,
    )


async def conversation(
    conn: asyncpg.Connection, *, client_id: str, clinician_id: str, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT message_id, sender, body, sent_at FROM messages
           WHERE client_id = $1 AND clinician_id = $2 ORDER BY sent_at DESC, message_id LIMIT $3""",
        client_id,
        clinician_id,
        limit,
    )
    return rows
