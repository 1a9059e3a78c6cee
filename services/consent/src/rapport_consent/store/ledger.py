"""Appending to and reading the hash-chained ledger.

Appends are serialised by a transaction-scoped advisory lock, so concurrent writers form one linear chain
(UNIQUE (prev_hash) in the table refuses a fork even if that lock were bypassed). Append inside the
transaction of the action being recorded: the action, its ledger entry and its event commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from rapport_consent.domain.ledger import GENESIS_HASH, LedgerAction, entry_hash, plain_details

_LEDGER_LOCK_KEY = 0x4C454447  # "LEDG"
COLUMNS = (
    "seq, entry_id, at, actor_id, actor_role, action, client_id, scope, consent_id, channel, reason, "
    "request_id, details, prev_hash, hash"
)


@dataclass(frozen=True)
class NewEntry:
    actor_id: str
    actor_role: str
    action: LedgerAction
    channel: str
    client_id: str | None = None
    scope: str | None = None
    consent_id: str | None = None
    reason: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def append(conn: asyncpg.Connection, entries: Sequence[NewEntry]) -> list[dict[str, Any]]:
    """Chain ``entries`` after the current head; returns the stored rows."""
    if not conn.is_in_transaction():
        raise RuntimeError("ledger.append must run inside the recorded action's transaction")
    if not entries:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LEDGER_LOCK_KEY)
    head = await conn.fetchrow("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1")
    seq, prev = (head["seq"], head["hash"]) if head else (0, GENESIS_HASH)
    at = datetime.now(UTC)  # when it was recorded: always the wall clock, never a service's (simulated) clock
    rows: list[dict[str, Any]] = []
    for new in entries:
        seq += 1
        row: dict[str, Any] = {
            "seq": seq,
            "entry_id": str(uuid.uuid4()),
            "at": at,
            "actor_id": new.actor_id,
            "actor_role": new.actor_role,
            "action": new.action,
            "client_id": new.client_id,
            "scope": new.scope,
            "consent_id": new.consent_id,
            "channel": new.channel,
            "reason": new.reason,
            "request_id": new.request_id,
            "details": plain_details(new.details),
            "prev_hash": prev,
        }
        row["hash"] = prev = entry_hash(row)
        rows.append(row)
    await conn.executemany(
        f"INSERT INTO ledger_entries ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
        [tuple(row[name.strip()] for name in COLUMNS.split(",")) for row in rows],
    )
    return rows


@dataclass(frozen=True)
class LedgerQuery:
    client_id: str | None = None
    scope: str | None = None
    actor_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = 0


def _where(query: LedgerQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = ["seq > $1"]
    args: list[Any] = [query.after_seq]
    for column, value, op in (
        ("client_id", query.client_id, "="),
        ("scope", query.scope, "="),
        ("actor_id", query.actor_id, "="),
        ("action", query.action, "="),
        ("at", query.since, ">="),
        ("at", query.until, "<"),
    ):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} {op} ${len(args)}")
    return " AND ".join(clauses), args


async def search(conn: Any, query: LedgerQuery, limit: int) -> list[dict[str, Any]]:
    where, args = _where(query)
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM ledger_entries WHERE {where} ORDER BY seq LIMIT {int(limit)}", *args
    )
    return [dict(row) for row in rows]


async def scan(pool: asyncpg.Pool, query: LedgerQuery, batch: int = 1000) -> AsyncIterator[list[dict[str, Any]]]:
    """All matching entries in ``seq`` order, in batches (keyset pagination; no long transaction)."""
    after = query.after_seq
    while True:
        async with pool.acquire() as conn:
            rows = await search(conn, LedgerQuery(**{**query.__dict__, "after_seq": after}), batch)
        if not rows:
            return
        yield rows
        after = rows[-1]["seq"]
        if len(rows) < batch:
            return
