"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.runtime import MonitorRuntime
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_alliance_monitor.sse.hub import AlertHub
from rapport_common.service import (
    ClockDep,
    PoolDep,
    TransactionsDep,
    current_runtime,
    runtime_dependency,
    settings_dependency,
)

__all__ = ["ClockDep", "HubDep", "PoolDep", "RulesDep", "RuntimeDep", "SettingsDep", "TransactionsDep"]

# dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, per request


async def _rules(request: Request) -> RulesConfig:
    runtime: MonitorRuntime = current_runtime(request)
    return runtime.parts.rules


async def _hub(request: Request) -> AlertHub:
    runtime: MonitorRuntime = current_runtime(request)
    return runtime.parts.hub


RuntimeDep = Annotated[MonitorRuntime, Depends(runtime_dependency)]
SettingsDep = Annotated[AllianceMonitorSettings, Depends(settings_dependency)]
RulesDep = Annotated[RulesConfig, Depends(_rules)]
HubDep = Annotated[AlertHub, Depends(_hub)]
