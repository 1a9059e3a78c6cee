"""Wiring of the console: a plain FastAPI app (no database, no broker) with the shared HTTP conventions.

One origin for the browser: pages, sign-in, ``/api/<service>/...`` forwarded to the owning service, and
the operators' summary. ``/readyz`` is ready when every upstream service's ``/healthz`` answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from rapport_common.auth import TokenVerifier
from rapport_common.http import install_http_conventions
from rapport_common.logs import configure_logging
from rapport_console.api import ops, pages, proxy, signin
from rapport_console.api.pages import STATIC
from rapport_console.ops.summary import RateHistory
from rapport_console.security_headers import SecurityHeaders
from rapport_console.settings import ConsoleSettings

SERVICE = "console"


def build_app(settings: ConsoleSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """``transport`` lets unit tests put an in-process upstream behind the proxy."""
    settings = settings or ConsoleSettings()
    configure_logging(SERVICE, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=40)
        async with httpx.AsyncClient(transport=transport, limits=limits, follow_redirects=False) as client:
            app.state.upstream = client
            yield

    app = FastAPI(title="Rapport console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.ops_history = RateHistory()
    app.state.token_verifier = TokenVerifier(
        secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        jwks_url=settings.jwt_jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    install_http_conventions(app, SERVICE)
    # outermost of the app's middleware: error answers (404, 422, 502) carry the headers too
    app.add_middleware(SecurityHeaders)
    _install_health(app, settings)
    app.include_router(signin.router)
    app.include_router(ops.router)
    app.include_router(proxy.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _install_health(app: FastAPI, settings: ConsoleSettings) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Ready when every upstream service's ``/healthz`` answers 200."""
        client: httpx.AsyncClient | None = getattr(app.state, "upstream", None)

        async def up(base: str) -> bool:
            if client is None:
                return False
            try:
                answer = await client.get(f"{base}/healthz", timeout=settings.console_scrape_timeout_s)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200

        names = list(settings.service_urls())
        results = await asyncio.gather(*(up(base) for base in settings.service_urls().values()))
        checks = dict(zip(names, results, strict=True))
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
