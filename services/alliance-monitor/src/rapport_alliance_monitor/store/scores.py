"""Every analysed SRS/ORS of a pair and its session starts: the data of the clinician's trend chart.

The pair state keeps only the last few scores the rules need; the chart needs the whole series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

ScoreRow = tuple[str, str, str, str, str | None, datetime, int]
StartRow = tuple[str, str, str, datetime]


async def record_scores(conn: asyncpg.Connection, rows: Sequence[ScoreRow]) -> None:
    """Rows of (event_id, client_id, clinician_id, scale, session_id, at, total_tenths)."""
    if rows:
        await conn.executemany(
            """INSERT INTO score_points (event_id, client_id, clinician_id, scale, session_id, at, total_tenths)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING""",
            rows,
        )


async def record_starts(conn: asyncpg.Connection, rows: Sequence[StartRow]) -> None:
    """Rows of (client_id, clinician_id, session_id, started_at); the earliest start of a session wins."""
    if rows:
        await conn.executemany(
            """INSERT INTO session_starts (client_id, clinician_id, session_id, started_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (client_id, clinician_id, session_id)
               DO UPDATE SET started_at = least(session_starts.started_at, EXCLUDED.started_at)""",
            rows,
        )


async def series(conn: asyncpg.Connection | asyncpg.Pool, *, client_id: str, clinician_id: str) -> list[asyncpg.Record]:
    """The pair's scores in event-time order, each with its session number (rank of its session's start)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """WITH starts AS (
               SELECT session_id, rank() OVER (ORDER BY started_at, session_id) AS session_number
               FROM session_starts WHERE client_id = $1 AND clinician_id = $2)
           SELECT p.event_id, p.scale, p.session_id, p.at, p.total_tenths, s.session_number
           FROM score_points p LEFT JOIN starts s ON s.session_id = p.session_id
           WHERE p.client_id = $1 AND p.clinician_id = $2
           ORDER BY p.scale, p.at, p.event_id""",
        client_id,
        clinician_id,
    )
    return rows
