"""Sessions and their durable timers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

Row = Any  # asyncpg.Record (asyncpg ships no type information mypy can index)


async def insert(
    conn: asyncpg.Connection,
    *,
    session_id: str,
    client_id: str,
    clinician_id: str,
    modality: str,
    scheduled_start: datetime,
    scheduled_end: datetime,
) -> Row:
    row = await conn.fetchrow(
        """INSERT INTO sessions (session_id, client_id, clinician_id, modality, scheduled_start, scheduled_end)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        session_id,
        client_id,
        clinician_id,
        modality,
        scheduled_start,
        scheduled_end,
    )
    assert row is not None
    return row


async def get(conn: asyncpg.Connection, session_id: str, *, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM sessions WHERE session_id = $1{lock}", session_id)


async def get_many(conn: asyncpg.Connection, session_ids: list[str]) -> dict[str, Row]:
    rows = await conn.fetch("SELECT * FROM sessions WHERE session_id = ANY($1::text[])", session_ids)
    return {row["session_id"]: row for row in rows}


async def update(conn: asyncpg.Connection, session_id: str, **changes: Any) -> Row:
    """Set the given columns (names come from code, never from input) and return the new row."""
    columns = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=2))
    row = await conn.fetchrow(
        f"UPDATE sessions SET {assignments} WHERE session_id = $1 RETURNING *",
        session_id,
        *(changes[name] for name in columns),
    )
    assert row is not None
    return row


async def list_for(
    conn: asyncpg.Connection, *, client_id: str | None = None, clinician_id: str | None = None, limit: int = 200
) -> list[Row]:
    rows: list[Row] = await conn.fetch(
        """SELECT * FROM sessions
           WHERE ($1::text IS NULL OR client_id = $1) AND ($2::text IS NULL OR clinician_id = $2)
           ORDER BY scheduled_start DESC LIMIT $3""",
        client_id,
        clinician_id,
        limit,
    )
    return rows


async def set_timer(conn: asyncpg.Connection, *, session_id: str, kind: str, due_at: datetime, fired: int = 0) -> None:
    await conn.execute(
        """INSERT INTO session_timers (session_id, kind, due_at, fired) VALUES ($1, $2, $3, $4)
           ON CONFLICT (session_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at, fired = EXCLUDED.fired""",
        session_id,
        kind,
        due_at,
        fired,
    )


async def clear_timer(conn: asyncpg.Connection, *, session_id: str, kind: str) -> None:
    await conn.execute("DELETE FROM session_timers WHERE session_id = $1 AND kind = $2", session_id, kind)


async def claim_due_timers(conn: asyncpg.Connection, *, now: datetime, limit: int) -> list[Row]:
    """Due timers with their sessions, locked for this transaction (other instances skip them)."""
    rows: list[Row] = await conn.fetch(
        """SELECT t.session_id, t.kind, t.due_at, t.fired, s.*
           FROM session_timers t JOIN sessions s USING (session_id)
           WHERE t.due_at <= $1
           ORDER BY t.due_at
           LIMIT $2
           FOR UPDATE OF t, s SKIP LOCKED""",
        now,
        limit,
    )
    return rows
