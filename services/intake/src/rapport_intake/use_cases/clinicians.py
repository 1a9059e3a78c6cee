"""Clinicians: registration (into a supervisor's team) and the caseload a clinician works from."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg

from rapport_common.application.unit_of_work import Outcome, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import ORS_CUTOFF
from rapport_common.refusal import Refusal
from rapport_intake import events, store
from rapport_intake.domain import access
from rapport_intake.domain.ors import score_tenths
from rapport_intake.metrics import REGISTRATIONS
from rapport_intake.schemas import CaseloadEntry, CaseloadOut, ClinicianIn, ClinicianOut

log = logging.getLogger(__name__)


async def register_clinician(uow: UnitOfWork, *, principal: Principal, request: ClinicianIn) -> Outcome:
    """Register a clinician and publish `rapport.intake.clinician-registered` (201); 409 when the id is
    taken. A supervisor registers into their own team (see :func:`access.registration_supervisor`)."""
    supervisor_id = access.registration_supervisor(principal, request.supervisor_id)
    clinician_id = request.clinician_id or str(uuid.uuid4())
    if supervisor_id == clinician_id:
        raise Refusal(422, "body.supervisor_id", "a clinician cannot supervise themself")
    registered = ClinicianOut(
        clinician_id=clinician_id,
        display_name=request.display_name,
        timezone=request.timezone,
        working_hours=request.working_hours,
        supervisor_id=supervisor_id,
        registered_at=uow.now,
    )
    event = await _insert(uow, registered=registered, registered_by=principal.subject)
    await uow.publish(event)
    REGISTRATIONS.labels("clinician").inc()
    log.info("clinician registered", extra={"event_id": event.id})
    return Outcome(201, registered.model_dump(mode="json"))


async def _insert(uow: UnitOfWork, *, registered: ClinicianOut, registered_by: str) -> CloudEvent[Any]:
    """The clinician's row (409 when the id is taken) and the event that reports it."""
    hours = [hours.model_dump() for hours in registered.working_hours]
    created = await store.insert_clinician(
        uow.conn,
        clinician_id=registered.clinician_id,
        display_name=registered.display_name,
        timezone=registered.timezone,
        working_hours=hours,
        supervisor_id=registered.supervisor_id,
        registered_by=registered_by,
        registered_at=registered.registered_at,
    )
    if not created:
        raise Refusal(409, "clinician_id", "already registered")
    return events.clinician_registered(
        clinician_id=registered.clinician_id,
        display_name=registered.display_name,
        timezone=registered.timezone,
        working_hours=hours,
        supervisor_id=registered.supervisor_id,
        at=registered.registered_at,
    )


async def read_caseload(uow: UnitOfWork, *, principal: Principal, clinician_id: str) -> CaseloadOut:
    """The clinician's current clients (ids, age band, intake status, baseline vs cutoff): no client words.
    Readable by the clinician themself, their supervisor and services; 404 for an unknown clinician."""
    access.check_own_caseload(principal, clinician_id)
    clinician = await store.get_clinician(uow.conn, clinician_id)
    if clinician is None:
        raise Refusal(404, "clinician_id", "no such clinician")
    access.check_caseload_reader(principal, clinician_id=clinician_id, supervisor_id=clinician["supervisor_id"])
    rows = await store.caseload(uow.conn, clinician_id)
    return CaseloadOut(clinician_id=clinician_id, clients=[_caseload_entry(row) for row in rows])


def _caseload_entry(row: asyncpg.Record) -> CaseloadEntry:
    score = None if row["ors_total_tenths"] is None else score_tenths(row["ors_total_tenths"], row["age_band"])
    return CaseloadEntry(
        client_id=row["client_id"],
        age_band=row["age_band"],
        timezone=row["timezone"],
        assigned_at=row["assigned_at"],
        intake_completed=row["intake_completed"],
        baseline_ors_total=None if score is None else score.total,
        clinical_cutoff=ORS_CUTOFF[row["age_band"]],
        below_cutoff=None if score is None else score.below_cutoff,
    )
