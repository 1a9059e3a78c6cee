"""HTTP conventions: outages are back-pressure (503 + Retry-After), anything else a plain 500; the request id
(``X-Request-ID``) is the caller's only when it is plainly an id, and is answered and logged."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rapport_common.http import install_http_conventions
from rapport_common.logs import JsonFormatter


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


def _app_that_logs(stream: io.StringIO) -> FastAPI:
    """An app with the shared conventions whose one route writes a log line through the service formatter."""
    app = FastAPI()
    install_http_conventions(app, "test")
    log = logging.getLogger(f"test.request_id.{uuid.uuid4().hex}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    log.addHandler(handler)
    log.propagate = False

    @app.get("/work")
    async def work() -> dict[str, str]:
        log.warning("working")
        return {}

    return app


async def _work(headers: dict[str, str | bytes]) -> tuple[httpx.Response, dict[str, Any]]:
    stream = io.StringIO()
    transport = httpx.ASGITransport(app=_app_that_logs(stream))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/work", headers=headers)
    [line] = stream.getvalue().splitlines()
    return response, json.loads(line)


async def test_a_well_formed_request_id_is_echoed_and_logged_as_given() -> None:
    response, logged = await _work({"X-Request-ID": "req-42:a.b_C"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42:a.b_C"
    assert logged["request_id"] == "req-42:a.b_C"


@pytest.mark.parametrize(
    "given",
    ["=cmd|' /C calc'!A0", "req-1\nlevel=ERROR forged", "a" * 129, "", "req 1", "r\u00e9q"],
    ids=["formula", "newline", "too-long", "empty", "space", "non-ascii"],
)
async def test_a_request_id_outside_the_safe_charset_is_replaced_by_a_fresh_one(given: str) -> None:
    """The header is advisory: the request is served, under an id of our own in the answer and in the logs."""
    response, logged = await _work({"X-Request-ID": given.encode("utf-8")})
    assert response.status_code == 200
    generated = response.headers["x-request-id"]
    assert generated != given and uuid.UUID(generated)
    assert logged["request_id"] == generated


async def test_every_request_without_an_id_gets_its_own() -> None:
    first, logged_first = await _work({})
    second, _ = await _work({})
    assert uuid.UUID(first.headers["x-request-id"]) != uuid.UUID(second.headers["x-request-id"])
    assert logged_first["request_id"] == first.headers["x-request-id"]
