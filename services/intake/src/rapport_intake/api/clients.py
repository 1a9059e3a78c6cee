"""Client registration, care assignment, the intake questionnaire and the intake summary."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from rapport_common.auth import Principal, require_roles
from rapport_common.db import outbox
from rapport_common.events.envelope import CloudEvent
from rapport_common.service import ClockDep
from rapport_intake import events, store
from rapport_intake.api.deps import IdempotencyKey, IdempotentPost, PoolDep
from rapport_intake.schemas import (
    AssignmentIn,
    AssignmentOut,
    AssignmentRecord,
    BaselineOut,
    ClientIn,
    ClientOut,
    IntakeIn,
    IntakeOut,
    IntakeSummaryOut,
    OrsItemsIn,
)
from rapport_intake.domain import access
from rapport_intake.domain.ors import score_baseline
from rapport_intake.metrics import REGISTRATIONS

log = logging.getLogger(__name__)
router = APIRouter(tags=["clients"])

ClientRegistrar = Annotated[Principal, Depends(require_roles(*access.REGISTER_CLIENT_ROLES))]
Assigner = Annotated[Principal, Depends(require_roles(*access.ASSIGN_ROLES))]
IntakeAuthor = Annotated[Principal, Depends(require_roles(*access.COMPLETE_INTAKE_ROLES))]
SummaryReader = Annotated[Principal, Depends(require_roles(*access.INTAKE_SUMMARY_ROLES))]


@router.post("/clients", status_code=201, response_model=ClientOut)
async def register_client(
    body: ClientIn,
    principal: ClientRegistrar,
    pool: PoolDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a client (age band and timezone only) and publish `rapport.intake.client-registered`."""
    client_id = body.client_id or str(uuid.uuid4())
    post = IdempotentPost("register-client", principal, idempotency_key, body.model_dump(mode="json"))
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if (earlier := await post.replay(conn)) is not None:
            return earlier
        created = await store.insert_client(
            conn,
            client_id=client_id,
            age_band=body.age_band,
            timezone=body.timezone,
            registered_by=principal.subject,
            registered_at=now,
        )
        if not created:
            raise HTTPException(409, "client_id: already registered")
        event = events.client_registered(client_id=client_id, age_band=body.age_band, timezone=body.timezone, at=now)
        await outbox.enqueue(conn, [event])
        result = ClientOut(client_id=client_id, age_band=body.age_band, timezone=body.timezone, registered_at=now)
        response = await post.respond(conn, result, 201)
    REGISTRATIONS.labels("client").inc()
    log.info("client registered", extra={"event_id": event.id})
    return response


@router.post("/clients/{client_id}/assignments", status_code=201, response_model=AssignmentOut)
async def assign_clinician(
    client_id: str,
    body: AssignmentIn,
    principal: Assigner,
    pool: PoolDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Assign or reassign the client's clinician of record; publish `rapport.intake.clinician-assigned`.

    201 with the new assignment; 200 and no event when the client already has this clinician. The first
    assignment after an intake also publishes the baseline `ors-submitted`, which needs a clinician id.
    """
    post = IdempotentPost(
        "assign", principal, idempotency_key, {"client_id": client_id, **body.model_dump(mode="json")}
    )
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if (earlier := await post.replay(conn)) is not None:
            return earlier
        client = await store.get_client(conn, client_id, for_update=True)
        if client is None:
            raise HTTPException(404, "client_id: no such client")
        clinician = await store.get_clinician(conn, body.clinician_id)
        if clinician is None:
            raise HTTPException(422, "body.clinician_id: no such clinician")
        current_id: str | None = client["clinician_id"]
        current = await store.get_clinician(conn, current_id) if current_id else None
        if not access.may_assign(
            principal,
            new_supervisor=clinician["supervisor_id"],
            current_supervisor=current["supervisor_id"] if current else None,
            has_current=current_id is not None,
        ):
            raise HTTPException(403, "clinician_id: a supervisor assigns only between clinicians they supervise")
        if current_id == body.clinician_id:
            unchanged = AssignmentOut(
                client_id=client_id,
                clinician_id=current_id,
                assigned_at=client["assigned_at"],
                previous_clinician_id=None,
                changed=False,
            )
            return await post.respond(conn, unchanged, 200)
        await store.assign(
            conn, client_id=client_id, clinician_id=body.clinician_id, assigned_at=now, assigned_by=principal.subject
        )
        published: list[CloudEvent[Any]] = [
            events.clinician_assigned(client_id=client_id, clinician_id=body.clinician_id, at=now)
        ]
        published += await _pending_baseline(conn, client, body.clinician_id)
        await outbox.enqueue(conn, published)
        result = AssignmentOut(
            client_id=client_id,
            clinician_id=body.clinician_id,
            assigned_at=now,
            previous_clinician_id=current_id,
            changed=True,
        )
        response = await post.respond(conn, result, 201)
    REGISTRATIONS.labels("assignment").inc()
    log.info("clinician assigned", extra={"event_id": published[0].id, "count": len(published)})
    return response


async def _pending_baseline(
    conn: asyncpg.Connection, client: asyncpg.Record, clinician_id: str
) -> list[CloudEvent[Any]]:
    """The baseline `ors-submitted` of an intake completed before any assignment, now that a clinician exists."""
    intake = await store.get_intake(conn, client["client_id"])
    if intake is None or intake["ors_items"] is None or intake["baseline_clinician_id"] is not None:
        return []
    await store.mark_baseline_published(conn, intake_id=intake["intake_id"], clinician_id=clinician_id)
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


@router.post("/clients/{client_id}/intake", status_code=201, response_model=IntakeOut)
async def complete_intake(
    client_id: str,
    body: IntakeIn,
    principal: IntakeAuthor,
    pool: PoolDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the intake questionnaire; publish `rapport.intake.completed` and, when a clinician is already
    assigned, the baseline `rapport.feedback.ors-submitted` (``session_id`` null); otherwise the baseline is
    published at the first assignment. The total and the age band's cutoff are computed here."""
    post = IdempotentPost(
        "complete-intake", principal, idempotency_key, {"client_id": client_id, **body.model_dump(mode="json")}
    )
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if (earlier := await post.replay(conn)) is not None:
            return earlier
        client = await store.get_client(conn, client_id, for_update=True)
        if client is None:
            if principal.role == "service":
                raise HTTPException(404, "client_id: no such client")
            raise HTTPException(403, "client_id: not a client you may complete an intake for")
        if not access.may_complete_intake(principal, client_id=client_id, clinician_of_record=client["clinician_id"]):
            raise HTTPException(403, "client_id: not a client you may complete an intake for")
        if await store.get_intake(conn, client_id) is not None:
            raise HTTPException(409, "client_id: intake already completed")
        intake_id = str(uuid.uuid4())
        clinician_id: str | None = client["clinician_id"]
        items = body.baseline_ors.model_dump() if body.baseline_ors else None
        score = score_baseline(items, client["age_band"]) if items else None
        response_id = str(uuid.uuid4()) if items else None
        await store.insert_intake(
            conn,
            intake_id=intake_id,
            client_id=client_id,
            presenting_concerns=list(body.presenting_concerns),
            goals=list(body.goals),
            ors_response_id=response_id,
            ors_items=items,
            ors_total_tenths=round(score.total * 10) if score else None,
            completed_by=principal.subject,
            completed_at=now,
            baseline_clinician_id=clinician_id if items else None,
        )
        baseline = (
            events.baseline_ors(
                response_id=response_id,
                client_id=client_id,
                clinician_id=clinician_id,
                items=items,
                total=score.total,
                age_band=client["age_band"],
            )
            if items and score and response_id
            else None
        )
        published = [
            events.intake_completed(
                client_id=client_id,
                intake_id=intake_id,
                presenting_concerns=list(body.presenting_concerns),
                goals=list(body.goals),
                baseline=baseline,
                at=now,
            )
        ]
        if baseline is not None and clinician_id is not None:
            published.append(
                events.baseline_ors_submitted(baseline=baseline, clinician_id=clinician_id, answered_at=now)
            )
        await outbox.enqueue(conn, published)
        result = _intake_out(
            intake_id=intake_id,
            client_id=client_id,
            age_band=client["age_band"],
            completed_at=now,
            response_id=response_id,
            items=items,
            published=clinician_id is not None,
        )
        response = await post.respond(conn, result, 201)
    REGISTRATIONS.labels("intake").inc()
    log.info("intake completed", extra={"event_id": published[0].id, "count": len(published)})
    return response


def _intake_out(
    *,
    intake_id: str,
    client_id: str,
    age_band: str,
    completed_at: datetime,
    response_id: str | None,
    items: dict[str, float] | None,
    published: bool,
) -> IntakeOut:
    baseline = None
    if items is not None and response_id is not None:
        score = score_baseline(items, age_band)
        baseline = BaselineOut(
            response_id=response_id,
            items=OrsItemsIn(**items),
            total=score.total,
            age_band=age_band,
            clinical_cutoff=score.clinical_cutoff,
            below_cutoff=score.below_cutoff,
        )
    return IntakeOut(
        intake_id=intake_id,
        client_id=client_id,
        completed_at=completed_at,
        baseline_ors=baseline,
        baseline_published=baseline is not None and published,
    )


@router.get("/clients/{client_id}/intake", response_model=IntakeSummaryOut)
async def intake_summary(client_id: str, principal: SummaryReader, pool: PoolDep) -> IntakeSummaryOut:
    """A client's intake summary: the clinician of record sees everything, compliance sees everything but
    the client's own words (presenting concerns and goals come back null)."""
    async with pool.acquire() as conn:
        client = await store.get_client(conn, client_id)
        if client is None:
            if principal.role == "compliance":
                raise HTTPException(404, "client_id: no such client")
            raise HTTPException(403, "client_id: not a client of yours")
        if not access.may_read_intake_summary(principal, clinician_of_record=client["clinician_id"]):
            raise HTTPException(403, "client_id: not a client of yours")
        intake = await store.get_intake(conn, client_id)
        history = await store.assignments(conn, client_id)
    return _summary(principal, client, intake, history)


def _summary(
    principal: Principal, client: asyncpg.Record, intake: asyncpg.Record | None, history: list[asyncpg.Record]
) -> IntakeSummaryOut:
    words = access.sees_client_words(principal) and intake is not None
    return IntakeSummaryOut(
        client_id=client["client_id"],
        age_band=client["age_band"],
        timezone=client["timezone"],
        registered_at=client["registered_at"],
        clinician_id=client["clinician_id"],
        assignments=[AssignmentRecord(**dict(row)) for row in history],
        intake=None
        if intake is None
        else _intake_out(
            intake_id=intake["intake_id"],
            client_id=client["client_id"],
            age_band=client["age_band"],
            completed_at=intake["completed_at"],
            response_id=intake["ors_response_id"],
            items=intake["ors_items"],
            published=intake["baseline_clinician_id"] is not None,
        ),
        presenting_concerns=list(intake["presenting_concerns"]) if words and intake else None,
        goals=list(intake["goals"]) if words and intake else None,
    )
