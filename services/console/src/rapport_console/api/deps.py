"""Typed dependencies of the console's routes."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request

from rapport_console.settings import ConsoleSettings


async def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


async def _upstream(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.upstream
    return client


SettingsDep = Annotated[ConsoleSettings, Depends(_settings)]
UpstreamDep = Annotated[httpx.AsyncClient, Depends(_upstream)]
