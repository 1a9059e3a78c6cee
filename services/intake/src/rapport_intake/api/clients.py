"""Client registration, care assignment, the intake questionnaire and the intake summary: HTTP adapters over
:mod:`rapport_intake.use_cases`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rapport_common.http import outcome_response
from rapport_intake.api.deps import (
    Assigner,
    ClientRegistrar,
    IdempotencyKey,
    IntakeAuthor,
    SummaryReader,
    TransactionsDep,
    idempotent,
)
from rapport_intake.schemas import (
    AssignmentIn,
    AssignmentOut,
    ClientIn,
    ClientOut,
    IntakeIn,
    IntakeOut,
    IntakeSummaryOut,
)
from rapport_intake.use_cases import assignments, clients, intakes

router = APIRouter(tags=["clients"])


@router.post("/clients", status_code=201, response_model=ClientOut)
async def register_client(
    body: ClientIn,
    principal: ClientRegistrar,
    transactions: TransactionsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a client (age band and timezone only) and publish `rapport.intake.client-registered`."""
    outcome = await transactions.command(
        lambda uow: clients.register_client(uow, principal=principal, request=body),
        idempotent=idempotent("register-client", principal, idempotency_key, body.model_dump(mode="json")),
    )
    return outcome_response(outcome)


@router.post("/clients/{client_id}/assignments", status_code=201, response_model=AssignmentOut)
async def assign_clinician(
    client_id: str,
    body: AssignmentIn,
    principal: Assigner,
    transactions: TransactionsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Assign or reassign the client's clinician of record; publish `rapport.intake.clinician-assigned`.

    201 with the new assignment; 200 and no event when the client already has this clinician. The first
    assignment after an intake also publishes the baseline `ors-submitted`, which needs a clinician id.
    """
    outcome = await transactions.command(
        lambda uow: assignments.assign_clinician(uow, principal=principal, client_id=client_id, request=body),
        idempotent=idempotent(
            "assign", principal, idempotency_key, {"client_id": client_id, **body.model_dump(mode="json")}
        ),
    )
    return outcome_response(outcome)


@router.post("/clients/{client_id}/intake", status_code=201, response_model=IntakeOut)
async def complete_intake(
    client_id: str,
    body: IntakeIn,
    principal: IntakeAuthor,
    transactions: TransactionsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the intake questionnaire; publish `rapport.intake.completed` and, when a clinician is already
    assigned, the baseline `rapport.feedback.ors-submitted` (``session_id`` null); otherwise the baseline is
    published at the first assignment. The total and the age band's cutoff are computed by the service."""
    outcome = await transactions.command(
        lambda uow: intakes.complete_intake(uow, principal=principal, client_id=client_id, request=body),
        idempotent=idempotent(
            "complete-intake", principal, idempotency_key, {"client_id": client_id, **body.model_dump(mode="json")}
        ),
    )
    return outcome_response(outcome)


@router.get("/clients/{client_id}/intake", response_model=IntakeSummaryOut)
async def intake_summary(client_id: str, principal: SummaryReader, transactions: TransactionsDep) -> IntakeSummaryOut:
    """A client's intake summary: the clinician of record sees everything, compliance sees everything but
    the client's own words (presenting concerns and goals come back null)."""
    async with transactions.begin() as uow:
        return await intakes.read_intake_summary(uow, principal=principal, client_id=client_id)
