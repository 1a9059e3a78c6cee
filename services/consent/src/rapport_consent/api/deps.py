"""Typed dependencies shared by the consent routes: runtime pieces, the caller by role, request metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from rapport_common.auth import Principal, require_roles
from rapport_common.http import current_request_id
from rapport_common.refusal import Refusal
from rapport_common.service import (
    ClockDep,
    IdempotencyKey,
    PoolDep,
    TransactionsDep,
    runtime_dependency,
    settings_dependency,
)
from rapport_consent.runtime import ConsentRuntime
from rapport_consent.settings import ConsentSettings

__all__ = [
    "AnyRole",
    "AtDep",
    "Checker",
    "ClockDep",
    "Compliance",
    "ConsentReader",
    "ConsentWriter",
    "CountsReader",
    "IdempotencyKey",
    "PoolDep",
    "Publisher",
    "RequestIdDep",
    "RuntimeDep",
    "SettingsDep",
    "TransactionsDep",
]

# dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, per request


async def _at(
    clock: ClockDep, at: Annotated[datetime | None, Query(description="RFC 3339 with offset; defaults to now")] = None
) -> datetime:
    """The point in time a read is about: ``at`` as given (with its offset), else the service's now."""
    if at is None:
        return clock.now()
    if at.tzinfo is None:
        raise Refusal(422, "query.at", "must include a timezone offset")
    return at


RuntimeDep = Annotated[ConsentRuntime, Depends(runtime_dependency)]
SettingsDep = Annotated[ConsentSettings, Depends(settings_dependency)]
#: the caller's ``X-Request-ID`` when plainly an id, else a fresh one (rapport_common.http): kept in the ledger
RequestIdDep = Annotated[str, Depends(current_request_id)]
AtDep = Annotated[datetime, Depends(_at)]

#: who may act on consents at all (the use cases decide per client: rapport_common.access)
ConsentWriter = Annotated[Principal, Depends(require_roles("client", "clinician", "service"))]
ConsentReader = Annotated[Principal, Depends(require_roles("client", "clinician", "compliance", "service"))]
Checker = Annotated[Principal, Depends(require_roles("service", "clinician"))]
Compliance = Annotated[Principal, Depends(require_roles("compliance"))]
AnyRole = Annotated[
    Principal, Depends(require_roles("client", "clinician", "supervisor", "compliance", "operator", "service"))
]
CountsReader = Annotated[Principal, Depends(require_roles("operator", "compliance"))]
#: who publishes consent document versions: the platform's document-management automation (``service``);
#: see ``api.consents.publish_document`` for why no person role does
Publisher = Annotated[Principal, Depends(require_roles("service"))]
