"""Console test helpers: in-process HTTP servers on real sockets (the proxy streams, so it is tested over
real connections, not an in-memory transport), and the console built with chosen settings."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any, Literal

import pytest
import uvicorn
from fastapi import FastAPI

from rapport_common.auth import issue_token
from rapport_console.settings import ConsoleSettings

SECRET = "console-test-secret-of-32-bytes!!"


class LiveServer:
    """A FastAPI app served by uvicorn on 127.0.0.1:<free port> inside the test's event loop."""

    def __init__(self, app: FastAPI, *, lifespan: Literal["auto", "on", "off"] = "on") -> None:
        self.app = app
        self.port = 0
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=10)


@asynccontextmanager
async def serving(app: FastAPI, *, lifespan: Literal["auto", "on", "off"] = "on") -> AsyncIterator[LiveServer]:
    server = LiveServer(app, lifespan=lifespan)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def console_settings(upstream: str | dict[str, str], **overrides: Any) -> ConsoleSettings:
    """Console settings with every (or each named) service URL pointing at the given base URL(s)."""
    urls = (
        upstream
        if isinstance(upstream, dict)
        else dict.fromkeys(("intake", "session", "consent", "alliance"), upstream)
    )
    return ConsoleSettings(
        jwt_secret=SECRET,
        intake_service_url=urls["intake"],
        session_service_url=urls["session"],
        consent_service_url=urls["consent"],
        alliance_monitor_url=urls["alliance"],
        **overrides,
    )


@pytest.fixture
def token() -> Callable[..., str]:
    def make(subject: str = "clinician-01", role: str = "clinician") -> str:
        return issue_token(SECRET, subject=subject, role=role)

    return make


@pytest.fixture
def kit() -> ModuleType:
    """This module, for its helpers (tests cannot import a conftest under ``--import-mode=importlib``)."""
    return sys.modules[__name__]
