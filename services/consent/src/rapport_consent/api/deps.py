"""Typed dependencies shared by the consent routes, and how domain refusals become HTTP errors."""

from __future__ import annotations

import uuid
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from rapport_common.auth import Principal, require_roles
from rapport_common.service import ServiceRuntime
from rapport_consent.domain.consent import Actor
from rapport_consent.settings import ConsentSettings


async def runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def pool(request: Request) -> asyncpg.Pool:
    return request.app.state.runtime.pool


async def settings(request: Request) -> ConsentSettings:
    return request.app.state.runtime.settings


async def request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` (kept in the ledger for correlation) or a fresh one."""
    given = request.headers.get("x-request-id", "").strip()
    return given[:200] if given else str(uuid.uuid4())


PoolDep = Annotated[asyncpg.Pool, Depends(pool)]
SettingsDep = Annotated[ConsentSettings, Depends(settings)]
RequestIdDep = Annotated[str, Depends(request_id)]

#: who may act on consents at all (object-level checks follow in the routes)
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


def actor(principal: Principal) -> Actor:
    return Actor(principal.subject, principal.role)
