"""Security headers on every answer of the console (pages, static files, sign-in, proxied APIs, errors).

The policy fits what ``static/`` loads: its own scripts and one stylesheet (no inline script, style or event
handler), ``fetch()`` to its own origin (the API proxy, sign-in, ``/ops/summary`` and the SSE reader), no
images, fonts, frames or workers from anywhere. ``img-src 'self'`` only for the browser's own favicon request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
_ENCODED = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items()]
_NAMES = {name for name, _ in _ENCODED}


class SecurityHeaders:
    """Pure ASGI middleware (streams pass through untouched): sets each header once, replacing any the
    app set, so an answer never carries two policies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message = {**message, "headers": [*kept, *_ENCODED]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
