"""SQL of the intake service (asyncpg). Functions take a connection, so the use case's unit of work decides
the transaction that the state change and its outbox rows share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def insert_clinician(
    conn: asyncpg.Connection,
    *,
    clinician_id: str,
    display_name: str,
    timezone: str,
    working_hours: list[dict[str, Any]],
    supervisor_id: str | None,
    registered_by: str,
    registered_at: datetime,
) -> bool:
    """False when the clinician id is already registered (nothing written)."""
    inserted = await conn.fetchval(
        """INSERT INTO clinicians
               (clinician_id, display_name, timezone, working_hours, supervisor_id, registered_by, registered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (clinician_id) DO NOTHING
           RETURNING true""",
        clinician_id,
        display_name,
        timezone,
        working_hours,
        supervisor_id,
        registered_by,
        registered_at,
    )
    return bool(inserted)


async def get_clinician(conn: asyncpg.Connection, clinician_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM clinicians WHERE clinician_id = $1", clinician_id)


async def insert_client(
    conn: asyncpg.Connection,
    *,
    client_id: str,
    age_band: str,
    timezone: str,
    registered_by: str,
    registered_at: datetime,
) -> bool:
    """False when the client id is already registered (nothing written)."""
    inserted = await conn.fetchval(
        """INSERT INTO clients (client_id, age_band, timezone, registered_by, registered_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (client_id) DO NOTHING
           RETURNING true""",
        client_id,
        age_band,
        timezone,
        registered_by,
        registered_at,
    )
    return bool(inserted)


async def get_client(conn: asyncpg.Connection, client_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
    """The client row; ``for_update`` serialises concurrent assignments and intakes of one client."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM clients WHERE client_id = $1{lock}", client_id)


async def assign(
    conn: asyncpg.Connection, *, client_id: str, clinician_id: str, assigned_at: datetime, assigned_by: str
) -> None:
    """Close the open assignment (if any) and open one to ``clinician_id``; the client row names it."""
    await conn.execute(
        "UPDATE care_assignments SET ended_at = $2 WHERE client_id = $1 AND ended_at IS NULL",
        client_id,
        assigned_at,
    )
    await conn.execute(
        """INSERT INTO care_assignments (client_id, clinician_id, assigned_at, assigned_by)
           VALUES ($1, $2, $3, $4)""",
        client_id,
        clinician_id,
        assigned_at,
        assigned_by,
    )
    await conn.execute(
        "UPDATE clients SET clinician_id = $2, assigned_at = $3 WHERE client_id = $1",
        client_id,
        clinician_id,
        assigned_at,
    )


async def assignments(conn: asyncpg.Connection, client_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT clinician_id, assigned_at, ended_at FROM care_assignments WHERE client_id = $1 ORDER BY id",
        client_id,
    )
    return rows


async def insert_intake(
    conn: asyncpg.Connection,
    *,
    intake_id: str,
    client_id: str,
    presenting_concerns: list[str],
    goals: list[str],
    ors_response_id: str | None,
    ors_items: dict[str, float] | None,
    ors_total_tenths: int | None,
    completed_by: str,
    completed_at: datetime,
    baseline_clinician_id: str | None,
) -> bool:
    """False when the client already has an intake (nothing written)."""
    inserted = await conn.fetchval(
        """INSERT INTO intakes (intake_id, client_id, presenting_concerns, goals, ors_response_id, ors_items,
                                ors_total_tenths, completed_by, completed_at, baseline_clinician_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (client_id) DO NOTHING
           RETURNING true""",
        intake_id,
        client_id,
        presenting_concerns,
        goals,
        ors_response_id,
        ors_items,
        ors_total_tenths,
        completed_by,
        completed_at,
        baseline_clinician_id,
    )
    return bool(inserted)


async def get_intake(conn: asyncpg.Connection, client_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM intakes WHERE client_id = $1", client_id)


async def mark_baseline_published(conn: asyncpg.Connection, *, intake_id: str, clinician_id: str) -> None:
    await conn.execute("UPDATE intakes SET baseline_clinician_id = $2 WHERE intake_id = $1", intake_id, clinician_id)


async def caseload(conn: asyncpg.Connection, clinician_id: str) -> list[asyncpg.Record]:
    """The clinician's current clients with their intake status, oldest assignment first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT c.client_id, c.age_band, c.timezone, c.assigned_at,
                  i.intake_id IS NOT NULL AS intake_completed, i.ors_total_tenths
           FROM clients c LEFT JOIN intakes i ON i.client_id = c.client_id
           WHERE c.clinician_id = $1
           ORDER BY c.assigned_at, c.client_id""",
        clinician_id,
    )
    return rows
