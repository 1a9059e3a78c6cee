"""Consent holds: events waiting (in processing time) for a consent that may still arrive.

A hold row is written in the transaction that moved the consumer's position past the event, and deleted
only in the transaction that evaluates the event, so a held event is never lost and never analysed twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from rapport_common.events.codec import encode_event
from rapport_common.events.envelope import CloudEvent


async def hold_many(
    conn: asyncpg.Connection, held: Sequence[tuple[CloudEvent[Any], Sequence[str]]], *, hold_seconds: float
) -> None:
    """Hold a batch's undecided events, each with the scopes it waits for, in one statement (one round trip
    instead of one per event); the ``seq`` order follows ``held``."""
    if not held:
        return
    await conn.execute(
        """INSERT INTO consent_holds (event_id, client_id, event_type, event, expires_at, waiting_for)
           SELECT event_id, client_id, event_type, event, now() + make_interval(secs => $5),
                  string_to_array(waiting_for, ' ')
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $6::text[])
                WITH ORDINALITY AS held(event_id, client_id, event_type, event, waiting_for, position)
           ORDER BY position
           ON CONFLICT (event_id) DO NOTHING""",
        [event.id for event, _ in held],
        [event.data.client_id for event, _ in held],
        [event.type for event, _ in held],
        [encode_event(event).value for event, _ in held],
        hold_seconds,
        [" ".join(scopes) for _, scopes in held],
    )


async def held_clients(conn: asyncpg.Connection, client_ids: Iterable[str]) -> set[str]:
    """Which of ``client_ids`` have an event in a hold (the clients are already locked)."""
    rows = await conn.fetch(
        "SELECT DISTINCT client_id FROM consent_holds WHERE client_id = ANY($1::text[])", list(set(client_ids))
    )
    return {row["client_id"] for row in rows}


async def held_of(conn: asyncpg.Connection, client_ids: Iterable[str]) -> list[asyncpg.Record]:
    """Every held event of ``client_ids``, in arrival order, locked (the clients are already locked)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT seq, client_id, event_id, event FROM consent_holds WHERE client_id = ANY($1::text[])
           ORDER BY seq FOR UPDATE""",
        list(set(client_ids)),
    )
    return rows


async def due_for(
    conn: asyncpg.Connection, client_ids: Iterable[str], *, until: datetime | None = None
) -> list[asyncpg.Record]:
    """The held events of ``client_ids`` whose hold ended by now (and by ``until``), in arrival order, locked
    (the clients are already locked)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT seq, client_id, event_id, event FROM consent_holds
           WHERE client_id = ANY($1::text[]) AND expires_at <= LEAST(now(), $2::timestamptz)
           ORDER BY seq FOR UPDATE""",
        list(set(client_ids)),
        until,
    )
    return rows


async def due_clients(conn: asyncpg.Connection, *, limit: int, until: datetime | None = None) -> list[str]:
    """Clients with a hold that ended by now (and by ``until``: see ``store/progress.py``), oldest first."""
    rows = await conn.fetch(
        """SELECT client_id FROM consent_holds WHERE expires_at <= LEAST(now(), $2::timestamptz)
           GROUP BY client_id ORDER BY min(seq) LIMIT $1""",
        limit,
        until,
    )
    return [row["client_id"] for row in rows]


async def release(conn: asyncpg.Connection, seqs: Sequence[int]) -> None:
    if seqs:
        await conn.execute("DELETE FROM consent_holds WHERE seq = ANY($1::bigint[])", list(seqs))


async def count(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM consent_holds"))
