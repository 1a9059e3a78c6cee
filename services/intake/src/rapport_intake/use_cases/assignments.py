"""Care assignments: who a client's clinician of record is. The first assignment after an intake also
publishes the baseline ORS, which needs a clinician id."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from rapport_common.application.unit_of_work import Outcome, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.events.envelope import CloudEvent
from rapport_common.refusal import Refusal
from rapport_intake import events, store
from rapport_intake.domain import access
from rapport_intake.metrics import REGISTRATIONS
from rapport_intake.schemas import AssignmentIn, AssignmentOut

log = logging.getLogger(__name__)


async def assign_clinician(uow: UnitOfWork, *, principal: Principal, client_id: str, request: AssignmentIn) -> Outcome:
    """Assign or reassign the client's clinician of record and publish `rapport.intake.clinician-assigned`
    (201). 200 and no event when the client already has this clinician; 404 for an unknown client, 422 for
    an unknown clinician. The client's row is locked, so concurrent assignments of one client serialise."""
    client = await store.get_client(uow.conn, client_id, for_update=True)
    if client is None:
        raise Refusal(404, "client_id", "no such client")
    current_id: str | None = client["clinician_id"]
    await _check_assigner(uow, principal=principal, new_id=request.clinician_id, current_id=current_id)
    if current_id == request.clinician_id:
        unchanged = AssignmentOut(
            client_id=client_id,
            clinician_id=current_id,
            assigned_at=client["assigned_at"],
            previous_clinician_id=None,
            changed=False,
        )
        return Outcome(200, unchanged.model_dump(mode="json"))
    published = await _reassign(uow, principal=principal, client=client, clinician_id=request.clinician_id)
    REGISTRATIONS.labels("assignment").inc()
    log.info("clinician assigned", extra={"event_id": published[0].id, "count": len(published)})
    result = AssignmentOut(
        client_id=client_id,
        clinician_id=request.clinician_id,
        assigned_at=uow.now,
        previous_clinician_id=current_id,
        changed=True,
    )
    return Outcome(201, result.model_dump(mode="json"))


async def _check_assigner(uow: UnitOfWork, *, principal: Principal, new_id: str, current_id: str | None) -> None:
    """422 for an unknown new clinician; 403 unless the caller may move the client between the current
    clinician's team and the new one's (:func:`access.check_assigner`)."""
    clinician = await store.get_clinician(uow.conn, new_id)
    if clinician is None:
        raise Refusal(422, "body.clinician_id", "no such clinician")
    current = await store.get_clinician(uow.conn, current_id) if current_id else None
    access.check_assigner(
        principal,
        new_supervisor=clinician["supervisor_id"],
        current_supervisor=current["supervisor_id"] if current else None,
        has_current=current_id is not None,
    )


async def _reassign(
    uow: UnitOfWork, *, principal: Principal, client: asyncpg.Record, clinician_id: str
) -> list[CloudEvent[Any]]:
    """Close the open assignment, open one to ``clinician_id`` and publish it (with a pending baseline)."""
    client_id: str = client["client_id"]
    await store.assign(
        uow.conn, client_id=client_id, clinician_id=clinician_id, assigned_at=uow.now, assigned_by=principal.subject
    )
    published = [events.clinician_assigned(client_id=client_id, clinician_id=clinician_id, at=uow.now)]
    published += await _pending_baseline(uow, client=client, clinician_id=clinician_id)
    await uow.publish(*published)
    return published


async def _pending_baseline(uow: UnitOfWork, *, client: asyncpg.Record, clinician_id: str) -> list[CloudEvent[Any]]:
    """The baseline `ors-submitted` of an intake completed before any assignment, now that a clinician exists
    (published once: the intake remembers the clinician it went out for)."""
    intake = await store.get_intake(uow.conn, client["client_id"])
    if intake is None or intake["ors_items"] is None or intake["baseline_clinician_id"] is not None:
        return []
    await store.mark_baseline_published(uow.conn, intake_id=intake["intake_id"], clinician_id=clinician_id)
    baseline = events.baseline_ors(
        response_id=intake["ors_response_id"],
        client_id=client["client_id"],
        clinician_id=clinician_id,
        items=intake["ors_items"],
        total=intake["ors_total_tenths"] / 10,
        age_band=client["age_band"],
    )
    return [
        events.baseline_ors_submitted(baseline=baseline, clinician_id=clinician_id, answered_at=intake["completed_at"])
    ]
