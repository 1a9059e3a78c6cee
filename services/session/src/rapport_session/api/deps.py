"""Typed dependencies of the routes: the runtime's pieces and the caller.

Authorisation lives with the use cases: a client acts only as themself; a clinician only for clients
assigned to them (assignments come from intake.events; ``rapport_common.access``) and in sessions they run
(``domain.participants``); the ``service`` role (video client, simulator) acts for any session where that
makes sense (telemetry, join/leave on behalf of a participant, start/end).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rapport_common.auth import PrincipalDep
from rapport_common.service import (
    ClockDep,
    PoolDep,
    TransactionsDep,
    current_runtime,
    runtime_dependency,
    settings_dependency,
)
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
]


# dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, per request


async def _consent(request: Request) -> ConsentClient:
    runtime: SessionRuntime = current_runtime(request)
    return runtime.parts.consent


async def _flag_config(request: Request) -> MessageFlagConfig:
    runtime: SessionRuntime = current_runtime(request)
    return runtime.parts.flag_config


RuntimeDep = Annotated[SessionRuntime, Depends(runtime_dependency)]
ConsentDep = Annotated[ConsentClient, Depends(_consent)]
#: what the platform publishes (clinic numbers, its domains), from the settings, built at start
FlagConfigDep = Annotated[MessageFlagConfig, Depends(_flag_config)]
SettingsDep = Annotated[SessionSettings, Depends(settings_dependency)]
CallerDep = PrincipalDep
