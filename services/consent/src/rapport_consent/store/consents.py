"""Consent documents, grants, revocations, expiries and the point-in-time queries over them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

Conn: TypeAlias = Any  # an asyncpg Connection or Pool (both have fetch/fetchrow)

_CONSENT_COLUMNS = """c.consent_id, c.client_id, c.scope, c.document_version, c.document_hash, c.method,
    c.granted_by_id, c.granted_by_role, c.consenter_id, c.consenter_role, c.witness, c.part2, c.valid_from,
    c.valid_until, c.recorded_at, c.recorded_by_id, c.recorded_by_role,
    r.effective_at AS revoked_effective_at, r.revoked_by_id, r.revoked_by_role, r.reason AS revoke_reason,
    r.recorded_at AS revoked_recorded_at, e.expired_at"""
_CONSENT_FROM = """consents c
    LEFT JOIN consent_revocations r ON r.consent_id = c.consent_id
    LEFT JOIN consent_expiries e ON e.consent_id = c.consent_id"""


_DOCUMENT_COLUMNS = "scope, version, title, body, content_hash, published_at"


async def documents(conn: Conn, scope: str | None = None) -> list[dict[str, Any]]:
    """Every published version, per scope in publication order (oldest first)."""
    rows = await conn.fetch(
        f"""SELECT {_DOCUMENT_COLUMNS} FROM consent_documents
            WHERE $1::text IS NULL OR scope = $1 ORDER BY scope, published_seq""",
        scope,
    )
    return [dict(row) for row in rows]


async def document(conn: Conn, scope: str, version: str | None) -> dict[str, Any] | None:
    """The named version, or the latest published one for ``scope`` when ``version`` is None ("latest" is
    the last publication, by ``published_seq``: neither timestamps nor text labels order reliably)."""
    if version is not None:
        row = await conn.fetchrow(
            f"SELECT {_DOCUMENT_COLUMNS} FROM consent_documents WHERE scope = $1 AND version = $2", scope, version
        )
    else:
        row = await conn.fetchrow(
            f"""SELECT {_DOCUMENT_COLUMNS} FROM consent_documents WHERE scope = $1
                ORDER BY published_seq DESC LIMIT 1""",
            scope,
        )
    return dict(row) if row else None


async def lock_scope_documents(conn: asyncpg.Connection, scope: str) -> None:
    """Serialise publications of one scope until commit: the next version number, the duplicate check and
    ``published_seq`` order (= "latest") then follow commit order."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 11))", f"consent-documents:{scope}")


async def next_version(conn: asyncpg.Connection, scope: str) -> str:
    """One more than the highest whole-number version of ``scope`` (other labels, and numbers of more than
    18 digits, are ignored); "1" for a scope without any."""
    value = await conn.fetchval(
        """SELECT coalesce(max(version::bigint), 0) + 1 FROM consent_documents
           WHERE scope = $1 AND version ~ '^[0-9]{1,18}$'""",
        scope,
    )
    return str(value)


async def insert_document(
    conn: asyncpg.Connection, scope: str, version: str, title: str, body: str
) -> dict[str, Any] | None:
    """Store a new version; the database computes ``content_hash`` from ``body`` (as for the seeded texts).
    None when (scope, version) is already taken (a publication that lost a race)."""
    try:
        async with conn.transaction():  # savepoint: the lost race must not abort the caller's transaction
            row = await conn.fetchrow(
                f"""INSERT INTO consent_documents (scope, version, title, body, content_hash)
                    VALUES ($1, $2, $3, $4, '') RETURNING {_DOCUMENT_COLUMNS}""",
                scope,
                version,
                title,
                body,
            )
    except asyncpg.UniqueViolationError:
        return None
    assert row is not None
    return dict(row)


async def insert_consent(conn: asyncpg.Connection, consent: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO consents (consent_id, client_id, scope, document_version, document_hash, method,
               granted_by_id, granted_by_role, consenter_id, consenter_role, witness, part2, valid_from,
               valid_until, recorded_at, recorded_by_id, recorded_by_role)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)""",
        consent["consent_id"],
        consent["client_id"],
        consent["scope"],
        consent["document_version"],
        consent["document_hash"],
        consent["method"],
        consent["granted_by_id"],
        consent["granted_by_role"],
        consent["consenter_id"],
        consent["consenter_role"],
        consent["witness"],
        consent["part2"],
        consent["valid_from"],
        consent["valid_until"],
        consent["recorded_at"],
        consent["recorded_by_id"],
        consent["recorded_by_role"],
    )


async def consent(conn: Conn, consent_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    """One consent with its revocation and expiry; ``lock`` serialises concurrent revocations of it."""
    if lock:
        assert isinstance(conn, asyncpg.Connection)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", consent_id)
    row = await conn.fetchrow(f"SELECT {_CONSENT_COLUMNS} FROM {_CONSENT_FROM} WHERE c.consent_id = $1", consent_id)
    return dict(row) if row else None


async def client_consents(conn: Conn, client_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_CONSENT_COLUMNS} FROM {_CONSENT_FROM} WHERE c.client_id = $1 ORDER BY c.recorded_at, c.consent_id",
        client_id,
    )
    return [dict(row) for row in rows]


async def insert_revocation(conn: asyncpg.Connection, revocation: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO consent_revocations (consent_id, effective_at, revoked_by_id, revoked_by_role, reason,
               recorded_at, recorded_by_id, recorded_by_role) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)""",
        revocation["consent_id"],
        revocation["effective_at"],
        revocation["revoked_by_id"],
        revocation["revoked_by_role"],
        revocation["reason"],
        revocation["recorded_at"],
        revocation["recorded_by_id"],
        revocation["recorded_by_role"],
    )


_CHECK = """
SELECT (SELECT clinician_id FROM assignments WHERE client_id = $1) AS clinician_id,
       c.consent_id, c.valid_until
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT c.consent_id, c.valid_until FROM consents c
    WHERE c.client_id = $1 AND c.scope = $2 AND c.valid_from <= $3
      AND (c.valid_until IS NULL OR $3 < c.valid_until)
      AND NOT EXISTS (SELECT 1 FROM consent_revocations r WHERE r.consent_id = c.consent_id AND r.effective_at <= $3)
    ORDER BY c.valid_until DESC NULLS FIRST LIMIT 1
) c ON true"""


async def check(conn: Conn, client_id: str, scope: str, at: datetime) -> tuple[str | None, str | None, datetime | None]:
    """One round trip for the hot path: (assigned clinician, an active consent id or None, its valid_until)."""
    row = await conn.fetchrow(_CHECK, client_id, scope, at)
    assert row is not None
    return row["clinician_id"], row["consent_id"], row["valid_until"]


async def due_expiries(conn: asyncpg.Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Consents whose validity ended, not yet recorded as expired, and not revoked before they ended.
    Two instances may pick the same rows; :func:`insert_expiries` lets only one of them record each."""
    rows = await conn.fetch(
        """SELECT c.consent_id, c.client_id, c.scope, c.valid_until FROM consents c
           WHERE c.valid_until <= $1
             AND NOT EXISTS (SELECT 1 FROM consent_expiries e WHERE e.consent_id = c.consent_id)
             AND NOT EXISTS (SELECT 1 FROM consent_revocations r
                             WHERE r.consent_id = c.consent_id AND r.effective_at <= c.valid_until)
           ORDER BY c.valid_until LIMIT $2""",
        now,
        limit,
    )
    return [dict(row) for row in rows]


async def insert_expiries(conn: asyncpg.Connection, expiries: list[tuple[str, datetime]], now: datetime) -> set[str]:
    rows = await conn.fetch(
        """INSERT INTO consent_expiries (consent_id, expired_at, recorded_at)
           SELECT id, at, $3 FROM unnest($1::text[], $2::timestamptz[]) AS t(id, at)
           ON CONFLICT DO NOTHING RETURNING consent_id""",
        [consent_id for consent_id, _ in expiries],
        [at for _, at in expiries],
        now,
    )
    return {row["consent_id"] for row in rows}


async def active_counts(conn: Conn, at: datetime) -> dict[str, int]:
    """Active consents per scope (for operators: counts, no client data)."""
    rows = await conn.fetch(
        """SELECT c.scope, count(*) AS n FROM consents c
           WHERE c.valid_from <= $1 AND (c.valid_until IS NULL OR $1 < c.valid_until)
             AND NOT EXISTS (SELECT 1 FROM consent_revocations r WHERE r.consent_id = c.consent_id
                             AND r.effective_at <= $1)
           GROUP BY c.scope""",
        at,
    )
    return {row["scope"]: row["n"] for row in rows}


def as_json(value: Any) -> Any:
    """jsonb columns arrive decoded from the pool; direct connections may hand back strings."""
    return json.loads(value) if isinstance(value, str) else value
