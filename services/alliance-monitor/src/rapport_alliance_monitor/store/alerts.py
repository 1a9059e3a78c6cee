"""Alerts (current view) and alert_history (append-only, one row per raise/update/acknowledge/resolve).

History ids are the sequence of the live stream (SSE ``id``). Writers take :func:`lock_history` before
their first history row, so history rows commit in id order across transactions and instances: a client
resuming after id N can never miss a row with a smaller id committed later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from rapport_alliance_monitor.domain import Raise, Update
from rapport_alliance_monitor.domain.visibility import AlertFilter

_HISTORY_LOCK_KEY = 0x414C5254  # "ALRT"

ALERT_COLUMNS = """a.alert_id, a.rule, a.category, a.severity, a.audience, a.live, a.client_id, a.clinician_id,
    a.session_id, a.summary, a.evidence, a.status, a.raised_at, a.stored_at, a.updated_at, a.acknowledged_by,
    a.acknowledged_at, a.resolved_by, a.resolved_at, a.resolution, c.supervisor_id"""
_FROM = "alerts a LEFT JOIN clinician_states c ON c.clinician_id = a.clinician_id"

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def lock_history(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _HISTORY_LOCK_KEY)


async def insert_raised(conn: asyncpg.Connection, decision: Raise) -> bool:
    """Store a new alert; False when its (deterministic) id exists already: a replay raises nothing."""
    inserted = await conn.fetchval(
        """INSERT INTO alerts (alert_id, rule, category, severity, audience, live, client_id, clinician_id,
                               session_id, summary, evidence, raised_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (alert_id) DO NOTHING RETURNING true""",
        decision.alert_id,
        decision.rule,
        decision.category,
        decision.severity,
        decision.audience,
        decision.live,
        decision.client_id,
        decision.clinician_id,
        decision.session_id,
        decision.summary,
        list(decision.evidence),
        decision.at,
    )
    return bool(inserted)


async def add_evidence(conn: asyncpg.Connection, decision: Update) -> list[str]:
    """Attach evidence to an alert that is not resolved; returns the evidence actually new to it."""
    row = await conn.fetchrow(
        "SELECT evidence FROM alerts WHERE alert_id = $1 AND status <> 'resolved' FOR UPDATE", decision.alert_id
    )
    if row is None:
        return []
    added = [e for e in decision.added_evidence if e not in row["evidence"]]
    if added:
        await conn.execute(
            "UPDATE alerts SET evidence = evidence || $2::text[], summary = $3, updated_at = clock_timestamp() "
            "WHERE alert_id = $1",
            decision.alert_id,
            added,
            decision.summary,
        )
    return added


async def resolve(conn: asyncpg.Connection, alert_id: str, *, by: str, at: datetime, reason: str) -> bool:
    """Resolve an alert that is not resolved yet; False when it was (or does not exist)."""
    done = await conn.fetchval(
        """UPDATE alerts SET status = 'resolved', resolved_by = $2, resolved_at = $3, resolution = $4,
                             updated_at = clock_timestamp()
           WHERE alert_id = $1 AND status <> 'resolved' RETURNING true""",
        alert_id,
        by,
        at,
        reason,
    )
    return bool(done)


async def acknowledge(conn: asyncpg.Connection, alert_id: str, *, by: str, at: datetime) -> bool:
    done = await conn.fetchval(
        """UPDATE alerts SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = $3,
                             updated_at = clock_timestamp()
           WHERE alert_id = $1 AND status = 'open' RETURNING true""",
        alert_id,
        by,
        at,
    )
    return bool(done)


async def append_history(
    conn: asyncpg.Connection,
    alert_id: str,
    *,
    action: str,
    by: str,
    at: datetime,
    note: str | None = None,
    summary: str | None = None,
    evidence: list[str] | None = None,
) -> int:
    return int(
        await conn.fetchval(
            """INSERT INTO alert_history (alert_id, action, by, at, note, summary, evidence)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
            alert_id,
            action,
            by,
            at,
            note,
            summary,
            evidence or [],
        )
    )


async def get(conn: Conn, alert_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF a" if for_update else ""
    return await conn.fetchrow(f"SELECT {ALERT_COLUMNS} FROM {_FROM} WHERE a.alert_id = $1{lock}", alert_id)


async def history(conn: Conn, alert_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, action, by, at, note, summary, evidence, recorded_at FROM alert_history "
        "WHERE alert_id = $1 ORDER BY id",
        alert_id,
    )
    return rows


#: the SQL column (over ``a`` and ``c``) of each :class:`AlertFilter` field
FILTER_COLUMNS = {"audience": "a.audience", "clinician_id": "a.clinician_id", "supervisor_id": "c.supervisor_id"}


def filter_condition(seen_by: AlertFilter, params: list[Any]) -> str:
    """The SQL condition (over ``a`` and ``c``) of ``seen_by``, read off its conditions; appends parameters.

    Equality in SQL is false for a NULL column, as it is in :meth:`AlertFilter.admits` for None.
    """
    terms = []
    for column, value in seen_by.conditions():
        params.append(value)
        terms.append(f"{FILTER_COLUMNS[column]} = ${len(params)}")
    return f"({' AND '.join(terms)})"


async def search(
    conn: Conn,
    *,
    seen_by: AlertFilter,
    client_id: str | None = None,
    status: str | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    """The alerts ``seen_by`` admits, newest first, narrowed by the other arguments given."""
    params: list[Any] = []
    where = [filter_condition(seen_by, params)]
    for column, value in (("a.client_id", client_id), ("a.status", status), ("a.rule", rule)):
        if value is not None:
            params.append(value)
            where.append(f"{column} = ${len(params)}")
    if since is not None:
        params.append(since)
        where.append(f"a.raised_at >= ${len(params)}")
    if until is not None:
        params.append(until)
        where.append(f"a.raised_at < ${len(params)}")
    params.append(limit)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {ALERT_COLUMNS} FROM {_FROM} WHERE {' AND '.join(where)} "
        f"ORDER BY a.raised_at DESC, a.alert_id LIMIT ${len(params)}",
        *params,
    )
    return rows


async def counts(conn: Conn) -> list[asyncpg.Record]:
    """Alert counts by rule, severity and status: what operators see (no client data)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT rule, severity, status, count(*) AS count FROM alerts GROUP BY rule, severity, status "
        "ORDER BY rule, severity, status"
    )
    return rows


async def last_history_id(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM alert_history"))


async def history_since(
    conn: Conn, after: int, *, limit: int = 500, seen_by: AlertFilter | None = None
) -> list[asyncpg.Record]:
    """History rows after ``after`` with their alert (all of them, or those ``seen_by`` admits)."""
    params: list[Any] = [after]
    where = "h.id > $1"
    if seen_by is not None:
        where += " AND " + filter_condition(seen_by, params)
    params.append(limit)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT h.id AS history_id, h.action, h.by, h.at, h.note, h.evidence AS added_evidence, {ALERT_COLUMNS}
            FROM alert_history h JOIN alerts a ON a.alert_id = h.alert_id
            LEFT JOIN clinician_states c ON c.clinician_id = a.clinician_id
            WHERE {where} ORDER BY h.id LIMIT ${len(params)}""",
        *params,
    )
    return rows
