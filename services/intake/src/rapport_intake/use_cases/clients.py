"""Clients: registration (age band and timezone only), and loading a client for a caller who may act for
them, which the intake and its summary share."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection

import asyncpg

from rapport_common.access import check_client_access
from rapport_common.application.unit_of_work import Outcome, UnitOfWork
from rapport_common.auth import Principal, Role
from rapport_common.refusal import Refusal
from rapport_intake import events, store
from rapport_intake.metrics import REGISTRATIONS
from rapport_intake.schemas import ClientIn, ClientOut

log = logging.getLogger(__name__)


async def register_client(uow: UnitOfWork, *, principal: Principal, request: ClientIn) -> Outcome:
    """Register a client and publish `rapport.intake.client-registered` (201); 409 when the id is taken."""
    client_id = request.client_id or str(uuid.uuid4())
    created = await store.insert_client(
        uow.conn,
        client_id=client_id,
        age_band=request.age_band,
        timezone=request.timezone,
        registered_by=principal.subject,
        registered_at=uow.now,
    )
    if not created:
        raise Refusal(409, "client_id", "already registered")
    event = events.client_registered(
        client_id=client_id, age_band=request.age_band, timezone=request.timezone, at=uow.now
    )
    await uow.publish(event)
    REGISTRATIONS.labels("client").inc()
    log.info("client registered", extra={"event_id": event.id})
    result = ClientOut(client_id=client_id, age_band=request.age_band, timezone=request.timezone, registered_at=uow.now)
    return Outcome(201, result.model_dump(mode="json"))


async def client_for(
    uow: UnitOfWork,
    *,
    principal: Principal,
    client_id: str,
    all_clients: Collection[Role],
    for_update: bool = False,
) -> asyncpg.Record:
    """The client's row, for a caller who may act for them (:func:`rapport_common.access.check_client_access`
    with the action's ``all_clients`` roles). An unknown client is a 404 only for those roles; anyone else
    gets the 403 a client not theirs would get, so whether an id exists is not revealed."""
    client = await store.get_client(uow.conn, client_id, for_update=for_update)
    if client is None:
        if principal.role in all_clients:
            raise Refusal(404, "client_id", "no such client")
        check_client_access(principal, client_id=client_id, clinician_of_record=None)
        raise Refusal(403, "client_id", "no such client")  # the client themself, not registered
    check_client_access(
        principal, client_id=client_id, clinician_of_record=client["clinician_id"], all_clients=all_clients
    )
    return client
