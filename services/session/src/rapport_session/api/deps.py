"""Typed dependencies shared by the routes: runtime pieces, the caller, and who may act on what.

Authorisation: a client acts only as themself; a clinician only for clients assigned to them (assignments
come from intake.events) and in sessions they run; the ``service`` role (video client, simulator) acts for
any session where that makes sense (telemetry, join/leave on behalf of a participant, start/end).
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, HTTPException, Request

from rapport_common.auth import Principal, PrincipalDep
from rapport_common.projections import intake_view
from rapport_common.service import ClockDep, PoolDep, TransactionsDep, current_runtime
from rapport_session.consent_client import ConsentClient
from rapport_session.domain.message_flags import MessageFlagConfig
from rapport_session.runtime import SessionRuntime
from rapport_session.settings import SessionSettings

__all__ = [
    "CallerDep",
    "ClockDep",
    "ConsentDep",
    "FlagConfigDep",
    "PoolDep",
    "RuntimeDep",
    "SettingsDep",
    "TransactionsDep",
    "authorize_client",
    "authorize_session",
    "forbid",
    "not_found",
]


# dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, per request


async def _runtime(request: Request) -> SessionRuntime:
    return current_runtime(request)


async def _consent(request: Request) -> ConsentClient:
    return (await _runtime(request)).parts.consent


async def _flag_config(request: Request) -> MessageFlagConfig:
    return (await _runtime(request)).parts.flag_config


async def _settings(request: Request) -> SessionSettings:
    return (await _runtime(request)).settings


RuntimeDep = Annotated[SessionRuntime, Depends(_runtime)]
ConsentDep = Annotated[ConsentClient, Depends(_consent)]
#: what the platform publishes (clinic numbers, its domains), from the settings, built at start
FlagConfigDep = Annotated[MessageFlagConfig, Depends(_flag_config)]
SettingsDep = Annotated[SessionSettings, Depends(_settings)]
CallerDep = PrincipalDep


def forbid(message: str) -> HTTPException:
    return HTTPException(403, message)


def not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} not found")


async def authorize_client(conn: asyncpg.Connection, caller: Principal, client_id: str) -> str:
    """The clinician responsible for ``client_id`` if the caller may act for that client, else 403."""
    clinician_id = (await intake_view.client_facts(conn, client_id)).clinician_id
    if caller.role == "client":
        if caller.subject != client_id:
            raise forbid("client_id: a client acts only for themself")
    elif caller.role == "clinician":
        if clinician_id != caller.subject:
            raise forbid("client_id: this client is not assigned to you")
    elif caller.role != "service":
        raise forbid(f"role {caller.role!r} may not do this")
    if clinician_id is None:
        raise HTTPException(409, "client_id: the client has no assigned clinician yet")
    return clinician_id


def authorize_session(caller: Principal, session: Any, *, roles: tuple[str, ...]) -> str:
    """The participant the caller is in ``session`` (``service`` for the service role), else 403."""
    if caller.role not in roles:
        raise forbid(f"role {caller.role!r} may not do this")
    if caller.role == "client":
        if session["client_id"] != caller.subject:
            raise forbid("session_id: not your session")
        return "client"
    if caller.role == "clinician":
        if session["clinician_id"] != caller.subject:
            raise forbid("session_id: not a session of yours")
        return "clinician"
    return "service"
