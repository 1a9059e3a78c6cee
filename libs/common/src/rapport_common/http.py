"""HTTP conventions shared by every service: field-named 4xx errors, request metrics, health, /metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from rapport_common.db.pool import is_transient_db_error
from rapport_common.metrics import HTTP_LATENCY, HTTP_REQUESTS


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "items", "relationship")`` -> ``"body.items.relationship"``."""
    return ".".join(str(part) for part in loc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": field_path(e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse(status_code=422, content={"detail": summary, "errors": errors})


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)


def _nul_path(body: bytes) -> str:
    """``body.goals.0`` for the first JSON string (or key) holding a NUL; ``body`` if the JSON cannot be read."""
    try:
        document = json.loads(body)
    except ValueError:
        return "body"

    def find(node: Any, path: str) -> str | None:
        if isinstance(node, str):
            return path if "\x00" in node else None
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            here = f"{path}.{key}"
            if "\x00" in str(key):
                return here
            if (found := find(value, here)) is not None:
                return found
        return None

    return find(document, "body") or "body"


async def _nul_refusal(request: Request) -> JSONResponse | None:
    """PostgreSQL text cannot hold NUL (SQLSTATE 22021): refuse it at the door with a 422 naming where it was,
    instead of a 500 from the first query that stores or compares it."""
    where = None
    if "%00" in request.url.path or "\x00" in request.url.path:
        where = "path"
    elif b"%00" in request.scope.get("query_string", b""):
        where = "query"
    elif request.method in ("POST", "PUT", "PATCH") and b"\\u0000" in await request.body():
        where = _nul_path(await request.body())
    if where is None:
        return None
    message = f"{where}: must not contain NUL characters"
    return JSONResponse(
        status_code=422,
        content={"detail": message, "errors": [{"field": where, "message": message, "type": "nul_character"}]},
    )


async def _unhandled_error(_: Request, exc: Exception) -> JSONResponse:
    """A database that is down or restarting is back-pressure (503 + Retry-After), not a server bug."""
    if is_transient_db_error(exc):
        return JSONResponse(
            status_code=503, content={"detail": "database temporarily unavailable; retry"}, headers={"Retry-After": "1"}
        )
    return JSONResponse(status_code=500, content={"detail": "internal error"})


def install_http_conventions(app: FastAPI, service: str) -> None:
    """Error shapes, per-route metrics (route templates, never raw paths with ids) and /metrics."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled_error)

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        refusal = await _nul_refusal(request)
        response = refusal if refusal is not None else await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, template, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, request.method, template).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
