"""Typed dependencies of the intake routes: the runtime's pieces (the same names in every service), the
callers each action admits, and the idempotency of a command."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from rapport_common.application.unit_of_work import Idempotency
from rapport_common.auth import Principal, require_roles
from rapport_common.service import (
    ClockDep,
    IdempotencyKey,
    PoolDep,
    TransactionsDep,
    runtime_dependency,
    settings_dependency,
)
from rapport_intake.domain import access
from rapport_intake.runtime import IntakeRuntime
from rapport_intake.settings import IntakeSettings

__all__ = [
    "Assigner",
    "CaseloadReader",
    "ClientRegistrar",
    "ClinicianRegistrar",
    "ClockDep",
    "IdempotencyKey",
    "IntakeAuthor",
    "PoolDep",
    "RuntimeDep",
    "SettingsDep",
    "SummaryReader",
    "TransactionsDep",
    "idempotent",
]


# dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, per request


RuntimeDep = Annotated[IntakeRuntime, Depends(runtime_dependency)]
SettingsDep = Annotated[IntakeSettings, Depends(settings_dependency)]

ClinicianRegistrar = Annotated[Principal, Depends(require_roles(*access.REGISTER_CLINICIAN_ROLES))]
CaseloadReader = Annotated[Principal, Depends(require_roles(*access.CASELOAD_ROLES))]
ClientRegistrar = Annotated[Principal, Depends(require_roles(*access.REGISTER_CLIENT_ROLES))]
Assigner = Annotated[Principal, Depends(require_roles(*access.ASSIGN_ROLES))]
IntakeAuthor = Annotated[Principal, Depends(require_roles(*access.COMPLETE_INTAKE_ROLES))]
SummaryReader = Annotated[Principal, Depends(require_roles(*access.INTAKE_SUMMARY_ROLES))]


def idempotent(action: str, principal: Principal, key: str | None, body: Any) -> Idempotency:
    """The idempotency of intake's ``action``: keys are scoped to ``intake:<action>`` and the caller, so one
    caller is never handed another's stored response (the scopes' values are those of the stored keys)."""
    return Idempotency(f"intake:{action}", principal, key, body)
