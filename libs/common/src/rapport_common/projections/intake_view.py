"""The intake view: each client's age band and assigned clinician, learned from ``intake.events`` by the
services that decide by them (session: who may act for a client, which ORS form; consent: who must consent,
who may record verbal consent).

One rule for both facts: the one with the latest event time wins, whatever the arrival order, so a late or
redelivered older event never overwrites a newer one. The owning service keeps the tables (its migration
creates ``clients (client_id, age_band, registered_at)`` and ``assignments (client_id, clinician_id,
assigned_at)``); a ``registered_at`` left NULL by an older row yields to any dated registration.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from rapport_common.application.handlers import EventHandlers
from rapport_common.application.unit_of_work import UnitOfWork
from rapport_common.events.intake import ClientRegistered, ClinicianAssigned


@dataclass(frozen=True, slots=True)
class ClientFacts:
    age_band: str | None
    clinician_id: str | None


def learn_from(handlers: EventHandlers) -> None:
    """Register the view's handlers on a service's ``intake.events`` consumer."""
    handlers.on(ClientRegistered)(client_registered)
    handlers.on(ClinicianAssigned)(clinician_assigned)


async def client_registered(uow: UnitOfWork, event: ClientRegistered) -> None:
    await uow.conn.execute(
        """INSERT INTO clients (client_id, age_band, registered_at) VALUES ($1, $2, $3)
           ON CONFLICT (client_id) DO UPDATE SET age_band = EXCLUDED.age_band, registered_at = EXCLUDED.registered_at
           WHERE clients.registered_at IS NULL OR clients.registered_at <= EXCLUDED.registered_at""",
        event.data.client_id,
        event.data.age_band,
        event.time,
    )


async def clinician_assigned(uow: UnitOfWork, event: ClinicianAssigned) -> None:
    await uow.conn.execute(
        """INSERT INTO assignments (client_id, clinician_id, assigned_at) VALUES ($1, $2, $3)
           ON CONFLICT (client_id) DO UPDATE SET clinician_id = EXCLUDED.clinician_id,
               assigned_at = EXCLUDED.assigned_at
           WHERE assignments.assigned_at <= EXCLUDED.assigned_at""",
        event.data.client_id,
        event.data.clinician_id,
        event.data.assigned_at,
    )


async def client_facts(conn: asyncpg.Connection | asyncpg.Pool, client_id: str) -> ClientFacts:
    """What the view knows of ``client_id`` (None for a fact not learned yet)."""
    row = await conn.fetchrow(
        """SELECT (SELECT age_band FROM clients WHERE client_id = $1) AS age_band,
                  (SELECT clinician_id FROM assignments WHERE client_id = $1) AS clinician_id""",
        client_id,
    )
    assert row is not None
    return ClientFacts(row["age_band"], row["clinician_id"])
