"""Clinician registration and caseloads: HTTP adapters over :mod:`rapport_intake.use_cases.clinicians`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rapport_common.http import outcome_response
from rapport_intake.api.deps import CaseloadReader, ClinicianRegistrar, IdempotencyKey, TransactionsDep, idempotent
from rapport_intake.schemas import CaseloadOut, ClinicianIn, ClinicianOut
from rapport_intake.use_cases import clinicians

router = APIRouter(tags=["clinicians"])


@router.post("/clinicians", status_code=201, response_model=ClinicianOut)
async def register_clinician(
    body: ClinicianIn,
    principal: ClinicianRegistrar,
    transactions: TransactionsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a clinician and publish `rapport.intake.clinician-registered`. A supervisor registers into
    their own team: ``supervisor_id`` defaults to them and may not name anyone else."""
    outcome = await transactions.command(
        lambda uow: clinicians.register_clinician(uow, principal=principal, request=body),
        idempotent=idempotent("register-clinician", principal, idempotency_key, body.model_dump(mode="json")),
    )
    return outcome_response(outcome)


@router.get("/clinicians/{clinician_id}/caseload", response_model=CaseloadOut)
async def caseload(clinician_id: str, principal: CaseloadReader, transactions: TransactionsDep) -> CaseloadOut:
    """The clinician's current clients (ids, age band, intake status, baseline vs cutoff): no client words.
    Readable by the clinician themself, their supervisor and services."""
    async with transactions.begin() as uow:
        return await clinicians.read_caseload(uow, principal=principal, clinician_id=clinician_id)
