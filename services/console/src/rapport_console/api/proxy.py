"""``/api/<service>/<path>``: the browser's single origin for every service API.

The console holds no data and decides nothing: the caller's ``Authorization`` header goes upstream untouched
and the owning service authorises (401/403 come back as they were sent). Responses are streamed, so CSV
exports and Server-Sent Events (``GET /api/alliance/alerts/stream``) pass through as they are produced.
Only the headers listed here cross in either direction; cookies never do. Only the API prefixes in
``FORWARDED`` cross at all: a service's ``/metrics``, ``/docs``, ``/openapi.json`` and health routes are for
operators on the service network, not for the browser.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from rapport_console.api.deps import SettingsDep, UpstreamDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["proxy"])

#: request headers forwarded upstream (everything else, cookies included, stays at the console)
REQUEST_HEADERS = ("authorization", "content-type", "accept", "idempotency-key", "last-event-id", "traceparent")
#: response headers passed back to the browser
RESPONSE_HEADERS = (
    "content-type",
    "content-disposition",
    "content-encoding",
    "cache-control",
    "www-authenticate",
    "retry-after",
    "location",
    "x-accel-buffering",
)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
#: upstream -> the first path segments forwarded: what the pages in ``static/`` call (clinician: alerts, their
#: stream and acknowledge/resolve, caseload, trend; compliance: ledger, verify, exports, point-in-time consents)
#: plus the by-API reads the browser tests make through the console (a client's intake, a session)
FORWARDED: dict[str, tuple[str, ...]] = {
    "intake": ("clinicians", "clients"),
    "session": ("sessions",),
    "consent": ("compliance", "clients"),
    "alliance": ("alerts", "clients"),
}


def upstream_url(base: str, path: str) -> str:
    """The owning service's URL for ``path``; refuses dot segments so a path cannot climb out of it."""
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments) or "\\" in path:
        raise HTTPException(400, "path: dot segments are not allowed")
    return f"{base}/{path}"


def require_forwarded(upstream: str, path: str) -> None:
    """404 for any path outside the upstream's forwarded prefixes (whole segments: ``alertsx`` is not ``alerts``)."""
    prefixes = FORWARDED.get(upstream, ())
    if path.split("/", 1)[0] not in prefixes:
        allowed = ", ".join(f"/api/{upstream}/{prefix}/..." for prefix in prefixes)
        raise HTTPException(404, f"path: /api/{upstream}/{path} is not forwarded by the console; only {allowed}")


def is_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


@router.api_route("/api/{upstream}/{path:path}", methods=METHODS, include_in_schema=False)
async def forward(
    upstream: str, path: str, request: Request, settings: SettingsDep, client: UpstreamDep
) -> StreamingResponse:
    bases = settings.upstreams()
    base = bases.get(upstream)
    if base is None:
        raise HTTPException(404, f"upstream: unknown service {upstream!r}; one of {', '.join(sorted(bases))}")
    target = upstream_url(base, path)
    require_forwarded(upstream, path)
    url = httpx.URL(target, query=request.url.query.encode("latin-1"))
    headers = {name: value for name in REQUEST_HEADERS if (value := request.headers.get(name)) is not None}
    timeout = settings.console_upstream_timeout_s
    # a stream may stay silent between heartbeats: no read timeout once its headers arrived
    read_timeout = None if is_stream(request) else timeout
    outgoing = client.build_request(
        request.method,
        url,
        headers=headers,
        content=await request.body(),
        timeout=httpx.Timeout(timeout, read=read_timeout),
    )
    try:
        response = await client.send(outgoing, stream=True)
    except httpx.TimeoutException:
        log.warning("upstream timed out", extra={"route": upstream, "reason": "timeout"})
        raise HTTPException(504, f"upstream: {upstream} did not answer in time") from None
    except httpx.HTTPError as exc:
        log.warning("upstream unreachable", extra={"route": upstream, "reason": type(exc).__name__})
        raise HTTPException(502, f"upstream: {upstream} is not reachable") from None

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except httpx.HTTPError:
            log.warning("upstream stream broke", extra={"route": upstream, "reason": "stream-error"})
        finally:
            await response.aclose()

    passed = {name: value for name in RESPONSE_HEADERS if (value := response.headers.get(name)) is not None}
    return StreamingResponse(body(), status_code=response.status_code, headers=passed)
