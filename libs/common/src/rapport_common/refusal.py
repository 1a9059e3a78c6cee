"""A use case's refusal, named by the request field it is about; every service turns it into a 4xx.

Use cases raise it instead of an HTTP exception so they do not depend on how they were called: a route
answers with the status and a message naming the field, a consumer would dead-letter with the message.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class Refusal(Exception):
    """HTTP ``status`` with the request ``field`` it is about. ``retry_after`` (seconds) only for a refusal
    that may succeed later unchanged (it becomes a ``Retry-After`` header); a permanent conflict has none,
    so clients do not retry what can never succeed."""

    def __init__(self, status: int, field: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status
        self.field = field
        self.message = message
        self.retry_after = retry_after


async def _refusal_response(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    content: dict[str, object] = {"detail": f"{exc.field}: {exc.message}"}
    if exc.status == 422:  # the shape of a validation error: clients read one error format for both
        content["errors"] = [{"field": exc.field, "message": exc.message, "type": "refused"}]
    return JSONResponse(status_code=exc.status, content=content, headers=headers)


def install_refusals(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, _refusal_response)


class StartRefused(RuntimeError):
    """A service part that must not start as configured (no retry mends it): the runtime stops at once with
    this message instead of waiting for a dependency."""
