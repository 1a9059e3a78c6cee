"""Feedback responses (SRS, ORS, pulse, WAI-SR) as submitted, with their server-computed totals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def insert(
    conn: asyncpg.Connection,
    *,
    response_id: str,
    instrument: str,
    client_id: str,
    clinician_id: str,
    session_id: str | None,
    payload: dict[str, Any],
    submitted_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO feedback_responses (response_id, instrument, client_id, clinician_id, session_id, payload,
                                           submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        response_id,
        instrument,
        client_id,
        clinician_id,
        session_id,
        payload,
        submitted_at,
    )


async def count_for_session(conn: asyncpg.Connection, *, session_id: str, instrument: str) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM feedback_responses WHERE session_id = $1 AND instrument = $2", session_id, instrument
    )
    return int(value)
