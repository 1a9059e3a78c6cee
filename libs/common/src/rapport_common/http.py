"""HTTP conventions shared by every service: field-named 4xx errors, request metrics, request ids, health,
/metrics."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rapport_common.application.unit_of_work import Outcome
from rapport_common.db.pool import is_transient_db_error
from rapport_common.logs import REQUEST_ID
from rapport_common.metrics import HTTP_LATENCY, HTTP_REQUESTS

#: what a caller's ``X-Request-ID`` may be: it is stored (the consent ledger), exported to compliance (CSV,
#: FHIR), logged and echoed, so anything else (a formula, a newline, a page of text) is not taken as given
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


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


def request_id_from(given: bytes | None) -> str:
    """The caller's ``X-Request-ID`` if it is plainly an id, else a fresh one: the header is advisory, so a
    bad one is replaced, never refused."""
    if given is not None:
        text = given.decode("latin-1")
        if _SAFE_REQUEST_ID.fullmatch(text):
            return text
    return str(uuid.uuid4())


async def current_request_id() -> str:
    """Dependency: the id of the request being served (see :class:`RequestConventions`); a fresh one outside
    it. ``async``: FastAPI runs a plain ``def`` dependency in a worker thread."""
    return REQUEST_ID.get() or str(uuid.uuid4())


def _nul_refusal(where: str) -> JSONResponse:
    """PostgreSQL text cannot hold NUL (SQLSTATE 22021): refuse it at the door with a 422 naming where it was,
    instead of a 500 from the first query that stores or compares it."""
    message = f"{where}: must not contain NUL characters"
    return JSONResponse(
        status_code=422,
        content={"detail": message, "errors": [{"field": where, "message": message, "type": "nul_character"}]},
    )


class RequestConventions:
    """Pure ASGI middleware: the request id, NUL refusal and per-route metrics (route templates, never raw
    paths with ids). The request id (:func:`request_id_from`) is answered as ``X-Request-ID`` and carried by
    every log line written while serving (:data:`rapport_common.logs.REQUEST_ID`).

    Not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs every request through an extra task
    and memory streams, which showed up in the session service's telemetry profile (py-spy).
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        request_id = request_id_from(given)
        request_id_token = REQUEST_ID.set(request_id)
        method: str = scope["method"]
        status = 500
        where = None
        path: str = scope["path"]
        if "%00" in path or "\x00" in path or b"%00" in (scope.get("raw_path") or b""):
            where = "path"
        elif b"%00" in scope.get("query_string", b""):
            where = "query"
        elif method in ("POST", "PUT", "PATCH"):
            body, receive = await _buffered(receive)
            if b"\\u0000" in body:
                where = _nul_path(body)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            if where is not None:
                await _nul_refusal(where)(scope, receive, send_status)
            else:
                await self.app(scope, receive, send_status)
        finally:
            REQUEST_ID.reset(request_id_token)
            template = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - started)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app again (then the original's)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: the app sees that first
            return b"".join(chunks), _replay(message, receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            body = b"".join(chunks)
            return body, _replay({"type": "http.request", "body": body, "more_body": False}, receive)


def _replay(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


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

    app.add_middleware(RequestConventions, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def outcome_response(outcome: Outcome) -> JSONResponse:
    """A use case's outcome as the route's answer; a stored answer to a retried request says so."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
