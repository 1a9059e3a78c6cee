"""The same-origin proxy: what crosses (method, path, query, body, bearer token, chosen headers), what does
not (cookies), upstream refusals passed back as sent, streams passed through as produced, and the console's
own answers when an upstream is unknown or down. Upstreams are real HTTP servers on local sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from rapport_console.app import build_app

SECRET = "console-test-secret-of-32-bytes!!"


def echo_upstream(name: str, release: asyncio.Event | None = None) -> FastAPI:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(path: str, request: Request) -> Any:
        if path == "clients/someone-else/trend":
            return JSONResponse({"detail": "client_id: not your client"}, status_code=403)
        if path == "compliance/ledger/export.csv":
            return PlainTextResponse(
                "seq,hash\r\n1,abc\r\n",
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="x.csv"', "Set-Cookie": "s=1"},
            )
        if path == "alerts/stream":

            async def events() -> AsyncIterator[str]:
                yield 'id: 1\nevent: alert-raised\ndata: {"n": 1}\n\n'
                assert release is not None
                await release.wait()
                yield 'id: 2\nevent: alert-raised\ndata: {"n": 2}\n\n'

            return StreamingResponse(events(), media_type="text/event-stream")
        return {
            "service": name,
            "method": request.method,
            "path": "/" + path,
            "query": request.url.query,
            "body": (await request.body()).decode(),
            "headers": {k: v for k, v in request.headers.items()},
        }

    return app


async def test_forwards_request_and_token_untouched(kit: Any, token: Any) -> None:
    async with (
        kit.serving(echo_upstream("intake")) as intake,
        kit.serving(echo_upstream("consent")) as consent,
        kit.serving(
            build_app(
                kit.console_settings(
                    {"intake": intake.url, "session": intake.url, "consent": consent.url, "alliance": intake.url}
                )
            )
        ) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        bearer = f"Bearer {token()}"
        answer = await http.post(
            "/api/consent/compliance/ledger?client_id=c%201&scope=research&scope=x",
            content=b'{"note": "caf\xc3\xa9"}',
            headers={
                "Authorization": bearer,
                "Content-Type": "application/json",
                "Idempotency-Key": "k-1",
                "Cookie": "session=secret",
                "X-Other": "dropped",
            },
        )
        assert answer.status_code == 200
        seen = answer.json()
        assert seen["service"] == "consent"
        assert seen["method"] == "POST"
        assert seen["path"] == "/compliance/ledger"
        assert seen["query"] == "client_id=c%201&scope=research&scope=x"
        assert seen["body"] == '{"note": "café"}'
        assert seen["headers"]["authorization"] == bearer
        assert seen["headers"]["idempotency-key"] == "k-1"
        assert "cookie" not in seen["headers"] and "x-other" not in seen["headers"]

        other = await http.get("/api/intake/clinicians/clinician-01/caseload")
        assert other.json()["service"] == "intake"
        assert "authorization" not in other.json()["headers"]  # the console adds no credentials of its own


async def test_refusals_and_downloads_come_back_as_sent(kit: Any) -> None:
    async with (
        kit.serving(echo_upstream("x")) as upstream,
        kit.serving(build_app(kit.console_settings(upstream.url))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        refused = await http.get("/api/alliance/clients/someone-else/trend")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "client_id: not your client"}
        csv = await http.get("/api/consent/compliance/ledger/export.csv")
        assert csv.status_code == 200
        assert csv.text == "seq,hash\r\n1,abc\r\n"
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.headers["content-disposition"] == 'attachment; filename="x.csv"'
        assert "set-cookie" not in csv.headers


async def test_unknown_upstream_dot_segments_and_down_upstream(kit: Any) -> None:
    async with (
        kit.serving(build_app(kit.console_settings("http://127.0.0.1:9"))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        unknown = await http.get("/api/billing/anything")
        assert unknown.status_code == 404
        assert unknown.json()["detail"].startswith("upstream: unknown service 'billing'")
        climbing = await http.get("/api/intake/clients/%2E%2E/metrics")
        assert climbing.status_code == 400
        assert climbing.json()["detail"].startswith("path:")
        down = await http.get("/api/session/sessions")
        assert down.status_code == 502
        assert down.json() == {"detail": "upstream: session is not reachable"}


async def test_event_stream_passes_through_as_produced(kit: Any) -> None:
    release = asyncio.Event()
    async with (
        kit.serving(echo_upstream("alliance", release)) as upstream,
        kit.serving(build_app(kit.console_settings(upstream.url))) as console,
        httpx.AsyncClient(base_url=console.url, timeout=5) as http,
    ):
        started = time.monotonic()
        async with http.stream(
            "GET", "/api/alliance/alerts/stream", headers={"Accept": "text/event-stream"}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            chunks = response.aiter_text()
            first = await asyncio.wait_for(anext(chunks), timeout=2)
            # the first event arrives while the upstream is still holding the stream open
            assert "id: 1" in first and not release.is_set()
            assert time.monotonic() - started < 2
            release.set()
            rest = ""
            async for chunk in chunks:
                rest += chunk
        assert "id: 2" in rest


async def test_demo_login_is_off_unless_enabled(kit: Any) -> None:
    async with (
        kit.serving(build_app(kit.console_settings("http://127.0.0.1:9"))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        assert (await http.get("/auth/config")).json() == {"demo_login": False, "demo_users": []}
        refused = await http.post("/auth/demo-login", json={"user_id": "clinician-01"})
        assert refused.status_code == 404


async def test_demo_login_issues_real_tokens_for_the_demo_users(kit: Any) -> None:
    async with (
        kit.serving(build_app(kit.console_settings("http://127.0.0.1:9", console_demo_login=True))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        users = (await http.get("/auth/config")).json()["demo_users"]
        assert [u["user_id"] for u in users] == [
            *(f"clinician-0{n}" for n in range(1, 7)),
            "supervisor-01",
            "compliance-01",
            "operator-01",
        ]
        for user_id, role, home in (
            ("clinician-03", "clinician", "/clinician"),
            ("compliance-01", "compliance", "/compliance"),
            ("operator-01", "operator", "/operator"),
        ):
            answer = (await http.post("/auth/demo-login", json={"user_id": user_id})).json()
            claims = jwt.decode(answer["token"], SECRET, algorithms=["HS256"], audience="rapport", issuer="rapport")
            assert (claims["sub"], claims["role"], answer["home"]) == (user_id, role, home)
            me = await http.get("/auth/me", headers={"Authorization": f"Bearer {answer['token']}"})
            assert me.json()["user_id"] == user_id
        bad = await http.post("/auth/demo-login", json={"user_id": "admin"})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("body.user_id")
        extra = await http.post("/auth/demo-login", json={"user_id": "operator-01", "role": "compliance"})
        assert extra.status_code == 422
        forged = jwt.encode(
            {"sub": "x", "role": "operator", "aud": "rapport", "iss": "rapport", "exp": 9999999999},
            "wrong-secret-wrong-secret-wrong!!",
        )
        assert (await http.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_readiness_follows_the_upstreams(kit: Any) -> None:
    async with kit.serving(echo_upstream("x")) as upstream:
        urls = {
            "intake": upstream.url,
            "session": upstream.url,
            "consent": upstream.url,
            "alliance": "http://127.0.0.1:9",
        }
        async with (
            kit.serving(build_app(kit.console_settings(urls))) as console,
            httpx.AsyncClient(base_url=console.url) as http,
        ):
            assert (await http.get("/healthz")).status_code == 200
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {
                "intake": True,
                "session": True,
                "consent": True,
                "alliance-monitor": False,
            }
        async with (
            kit.serving(build_app(kit.console_settings(upstream.url))) as console,
            httpx.AsyncClient(base_url=console.url) as http,
        ):
            assert (await http.get("/readyz")).status_code == 200


async def test_pages_are_served_without_data(kit: Any) -> None:
    async with (
        kit.serving(build_app(kit.console_settings("http://127.0.0.1:9"))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        for path in ("/signin", "/clinician", "/clinician/clients/anyone", "/compliance", "/operator"):
            page = await http.get(path)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
            assert '<html lang="en">' in page.text
        assert (await http.get("/", follow_redirects=False)).headers["location"] == "/signin"
        assert (await http.get("/static/console.js")).status_code == 200
