"""The local consent view: grants, revocations and expiries from ``consent.events``, one row per consent.

Applying an event is idempotent (an upsert that only ever narrows a consent's end), so the consumer needs
no inbox: a redelivered batch writes the same rows again.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

Grant = tuple[str, str, str, datetime, datetime | None]  # consent_id, client_id, scope, valid_from, valid_until
End = tuple[str, str, str, datetime]  # consent_id, client_id, scope, ended_at


async def apply(conn: asyncpg.Connection, grants: list[Grant], ends: list[End]) -> None:
    """Record grants and ends (revocation effective_at or expiry) in two statements."""
    if grants:
        await conn.execute(
            """INSERT INTO consent_view (consent_id, client_id, scope, valid_from, valid_until)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
               ON CONFLICT (consent_id) DO UPDATE
               SET valid_from = EXCLUDED.valid_from, valid_until = EXCLUDED.valid_until, updated_at = now()""",
            *zip(*grants, strict=True),
        )
    if ends:
        await conn.execute(
            """INSERT INTO consent_view (consent_id, client_id, scope, ended_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
               ON CONFLICT (consent_id) DO UPDATE
               SET ended_at = LEAST(COALESCE(consent_view.ended_at, EXCLUDED.ended_at), EXCLUDED.ended_at),
                   updated_at = now()""",
            *zip(*ends, strict=True),
        )


async def active_clients(
    conn: asyncpg.Pool | asyncpg.Connection, client_ids: list[str], scope: str, at: datetime
) -> set[str]:
    """The clients of ``client_ids`` with a consent for ``scope`` active at ``at``, as far as the view knows."""
    rows = await conn.fetch(
        """SELECT DISTINCT client_id FROM consent_view
           WHERE client_id = ANY($1::text[]) AND scope = $2
             AND valid_from <= $3 AND (valid_until IS NULL OR valid_until > $3)
             AND (ended_at IS NULL OR ended_at > $3)""",
        client_ids,
        scope,
        at,
    )
    return {row["client_id"] for row in rows}
