"""HTTP conventions: outages are back-pressure (503 + Retry-After), anything else a plain 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from rapport_common.http import install_http_conventions


async def test_database_outage_is_503_with_retry_after_and_other_errors_500() -> None:
    import asyncpg

    app = FastAPI()
    install_http_conventions(app, "test")

    @app.get("/db-down")
    async def db_down() -> None:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("not transient")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        down = await client.get("/db-down")
        broken = await client.get("/bug")
    assert down.status_code == 503 and down.headers["retry-after"] == "1"
    assert broken.status_code == 500 and broken.json() == {"detail": "internal error"}
