"""Clinician registration and caseloads."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from rapport_common.auth import Principal, require_roles
from rapport_common.db import outbox
from rapport_common.events.feedback import ORS_CUTOFF
from rapport_common.service import ClockDep
from rapport_intake import events, store
from rapport_intake.api.deps import IdempotencyKey, IdempotentPost, PoolDep
from rapport_intake.schemas import CaseloadEntry, CaseloadOut, ClinicianIn, ClinicianOut
from rapport_intake.domain import access
from rapport_intake.metrics import REGISTRATIONS

log = logging.getLogger(__name__)
router = APIRouter(tags=["clinicians"])

Registrar = Annotated[Principal, Depends(require_roles(*access.REGISTER_CLINICIAN_ROLES))]
CaseloadReader = Annotated[Principal, Depends(require_roles(*access.CASELOAD_ROLES))]


@router.post("/clinicians", status_code=201, response_model=ClinicianOut)
async def register_clinician(
    body: ClinicianIn,
    principal: Registrar,
    pool: PoolDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a clinician and publish `rapport.intake.clinician-registered`. A supervisor registers into
    their own team: ``supervisor_id`` defaults to them and may not name anyone else."""
    supervisor_id = body.supervisor_id
    if principal.role == "supervisor" and supervisor_id is None:
        supervisor_id = principal.subject
    if not access.may_name_supervisor(principal, supervisor_id):
        raise HTTPException(403, "supervisor_id: a supervisor registers clinicians only into their own team")
    clinician_id = body.clinician_id or str(uuid.uuid4())
    if supervisor_id == clinician_id:
        raise HTTPException(422, "body.supervisor_id: a clinician cannot supervise themself")
    hours = [hours.model_dump() for hours in body.working_hours]
    post = IdempotentPost("register-clinician", principal, idempotency_key, body.model_dump(mode="json"))
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if (earlier := await post.replay(conn)) is not None:
            return earlier
        created = await store.insert_clinician(
            conn,
            clinician_id=clinician_id,
            display_name=body.display_name,
            timezone=body.timezone,
            working_hours=hours,
            supervisor_id=supervisor_id,
            registered_by=principal.subject,
            registered_at=now,
        )
        if not created:
            raise HTTPException(409, "clinician_id: already registered")
        event = events.clinician_registered(
            clinician_id=clinician_id,
            display_name=body.display_name,
            timezone=body.timezone,
            working_hours=hours,
            supervisor_id=supervisor_id,
            at=now,
        )
        await outbox.enqueue(conn, [event])
        result = ClinicianOut(
            clinician_id=clinician_id,
            display_name=body.display_name,
            timezone=body.timezone,
            working_hours=body.working_hours,
            supervisor_id=supervisor_id,
            registered_at=now,
        )
        response = await post.respond(conn, result, 201)
    REGISTRATIONS.labels("clinician").inc()
    log.info("clinician registered", extra={"event_id": event.id})
    return response


@router.get("/clinicians/{clinician_id}/caseload", response_model=CaseloadOut)
async def caseload(clinician_id: str, principal: CaseloadReader, pool: PoolDep) -> CaseloadOut:
    """The clinician's current clients (ids, age band, intake status, baseline vs cutoff): no client words.
    Readable by the clinician themself, their supervisor and services."""
    if principal.role == "clinician" and principal.subject != clinician_id:
        raise HTTPException(403, "clinician_id: a clinician reads only their own caseload")
    async with pool.acquire() as conn:
        clinician = await store.get_clinician(conn, clinician_id)
        if clinician is None:
            raise HTTPException(404, "clinician_id: no such clinician")
        if not access.may_read_caseload(principal, clinician_id=clinician_id, supervisor_id=clinician["supervisor_id"]):
            raise HTTPException(403, "clinician_id: not a clinician you supervise")
        rows = await store.caseload(conn, clinician_id)
    entries = []
    for row in rows:
        cutoff = ORS_CUTOFF[row["age_band"]]
        total = row["ors_total_tenths"]
        entries.append(
            CaseloadEntry(
                client_id=row["client_id"],
                age_band=row["age_band"],
                timezone=row["timezone"],
                assigned_at=row["assigned_at"],
                intake_completed=row["intake_completed"],
                baseline_ors_total=None if total is None else total / 10,
                clinical_cutoff=cutoff,
                below_cutoff=None if total is None else total < round(cutoff * 10),
            )
        )
    return CaseloadOut(clinician_id=clinician_id, clients=entries)
