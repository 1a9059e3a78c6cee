"""Telemetry windows, written in bulk: one statement per batch, duplicates (same session and start) ignored."""

from __future__ import annotations

from datetime import datetime

import asyncpg

Window = tuple[str, datetime, datetime, float, float, float, str]


async def insert_new(conn: asyncpg.Connection, windows: list[Window]) -> set[str]:
    """Insert ``windows`` (session_id, start, end, talk, camera, silence, event_id); returns the event ids
    of the rows that were new (a retried request does not emit twice)."""
    if not windows:
        return set()
    columns = list(zip(*windows, strict=True))
    rows = await conn.fetch(
        """INSERT INTO telemetry_windows (session_id, window_start, window_end, client_talk_ratio,
                                          client_camera_on_ratio, longest_silence_s, event_id)
           SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::real[], $5::real[],
                                $6::real[], $7::text[])
           ON CONFLICT (session_id, window_start) DO NOTHING
           RETURNING event_id""",
        *(list(column) for column in columns),
    )
    return {row["event_id"] for row in rows}
