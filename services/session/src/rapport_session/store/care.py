"""Care assignments and client age bands, a local view learned from intake.events."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def assign(conn: asyncpg.Connection, *, client_id: str, clinician_id: str, assigned_at: datetime) -> None:
    """Record an assignment; a later one replaces an earlier one (event time decides, not arrival)."""
    await conn.execute(
        """INSERT INTO assignments (client_id, clinician_id, assigned_at) VALUES ($1, $2, $3)
           ON CONFLICT (client_id) DO UPDATE SET clinician_id = EXCLUDED.clinician_id,
                                                 assigned_at = EXCLUDED.assigned_at
           WHERE assignments.assigned_at <= EXCLUDED.assigned_at""",
        client_id,
        clinician_id,
        assigned_at,
    )


async def register_client(conn: asyncpg.Connection, *, client_id: str, age_band: str) -> None:
    await conn.execute(
        """INSERT INTO clients (client_id, age_band) VALUES ($1, $2)
           ON CONFLICT (client_id) DO UPDATE SET age_band = EXCLUDED.age_band""",
        client_id,
        age_band,
    )


async def clinician_of(conn: asyncpg.Connection, client_id: str) -> str | None:
    value = await conn.fetchval("SELECT clinician_id FROM assignments WHERE client_id = $1", client_id)
    return str(value) if value is not None else None


async def age_band_of(conn: asyncpg.Connection, client_id: str) -> str | None:
    value = await conn.fetchval("SELECT age_band FROM clients WHERE client_id = $1", client_id)
    return str(value) if value is not None else None
