"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.sse.hub import AlertHub
from rapport_common.service import ServiceRuntime


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


# dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, per request


async def _runtime_dep(request: Request) -> ServiceRuntime:
    return _runtime(request)


async def _pool(request: Request) -> asyncpg.Pool:
    return _runtime(request).pool


async def _rules(request: Request) -> RulesConfig:
    rules: RulesConfig = _runtime(request).extras["rules"]
    return rules


async def _hub(request: Request) -> AlertHub:
    hub: AlertHub = _runtime(request).extras["hub"]
    return hub


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime_dep)]
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
RulesDep = Annotated[RulesConfig, Depends(_rules)]
HubDep = Annotated[AlertHub, Depends(_hub)]
