"""The console's browser-facing hardening: security headers on every answer, a proxy that forwards only the
API prefixes the pages use (never a service's /metrics, /docs or /openapi.json), and demo sign-in refused on
anything but a loopback address. Real apps on real sockets; the start-up checks run ``python -m rapport_console``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rapport_common.http import install_http_conventions
from rapport_console.app import build_app
from rapport_console.settings import ConsoleSettings

SECRET = "console-test-secret-of-32-bytes!!"

HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def backend(name: str) -> FastAPI:
    """A service as the console sees it: its API routes, the shared conventions' /metrics, FastAPI's docs."""
    app = FastAPI(title=name)
    install_http_conventions(app, name)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/alerts")
    async def alerts() -> dict[str, Any]:
        return {"service": name, "alerts": []}

    @app.get("/clinicians/{clinician_id}/caseload")
    async def caseload(clinician_id: str) -> dict[str, Any]:
        return {"service": name, "clinician_id": clinician_id, "clients": []}

    return app


def assert_security_headers(answer: httpx.Response) -> None:
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    for name, value in HEADERS.items():
        assert answer.headers.get_list(name) == [value], f"{where}: {name}"


async def test_every_answer_carries_the_security_headers(kit: Any, token: Any) -> None:
    async with (
        kit.serving(backend("alliance")) as upstream,
        kit.serving(build_app(kit.console_settings(upstream.url, console_demo_login=True))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        page = await http.get("/signin")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        script = await http.get("/static/console.js")
        assert script.status_code == 200
        config = await http.get("/auth/config")
        assert config.status_code == 200
        proxied = await http.get("/api/alliance/alerts", headers={"Authorization": f"Bearer {token()}"})
        assert proxied.status_code == 200 and proxied.json()["service"] == "alliance"
        missing = await http.get("/nowhere")
        assert missing.status_code == 404
        refused = await http.get("/api/alliance/metrics")
        assert refused.status_code == 404
        redirect = await http.get("/", follow_redirects=False)
        assert redirect.status_code == 307
        for answer in (page, script, config, proxied, missing, refused, redirect):
            assert_security_headers(answer)


@pytest.mark.parametrize("upstream", ["intake", "session", "consent", "alliance"])
@pytest.mark.parametrize("path", ["metrics", "docs", "openapi.json", "healthz", "readyz", "docs/oauth2-redirect"])
async def test_the_proxy_does_not_forward_a_services_operational_routes(
    kit: Any, token: Any, upstream: str, path: str
) -> None:
    async with (
        kit.serving(backend(upstream)) as service,
        kit.serving(build_app(kit.console_settings(service.url))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        direct = await http.get(f"{service.url}/{path}")
        assert direct.status_code in (200, 404)  # the service has it (or not): the console must not reach it
        answer = await http.get(f"/api/{upstream}/{path}", headers={"Authorization": f"Bearer {token()}"})
        assert answer.status_code == 404, answer.text
        detail = answer.json()["detail"]
        assert detail.startswith(f"path: /api/{upstream}/{path} is not forwarded"), detail


async def test_the_api_paths_the_pages_use_still_pass(kit: Any, token: Any) -> None:
    async with (
        kit.serving(backend("x")) as service,
        kit.serving(build_app(kit.console_settings(service.url))) as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        assert (await http.get(f"{service.url}/metrics")).status_code == 200  # the service does expose it
        bearer = {"Authorization": f"Bearer {token()}"}
        alerts = await http.get("/api/alliance/alerts?status=open&limit=200", headers=bearer)
        assert alerts.status_code == 200 and alerts.json() == {"service": "x", "alerts": []}
        caseload = await http.get("/api/intake/clinicians/clinician-01/caseload", headers=bearer)
        assert caseload.status_code == 200 and caseload.json()["clinician_id"] == "clinician-01"
        # an allowed prefix cannot be used to climb to a refused route
        climbing = await http.get("/api/intake/clinicians/%2E%2E/metrics", headers=bearer)
        assert climbing.status_code == 400 and climbing.json()["detail"].startswith("path:")
        # a prefix is a whole segment: "alertsx" is not "alerts"
        near = await http.get("/api/alliance/alertsx", headers=bearer)
        assert near.status_code == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "console.example.org", ""])
def test_demo_sign_in_on_a_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError) as refused:
        ConsoleSettings(jwt_secret=SECRET, console_demo_login=True, http_host=host)
    message = str(refused.value)
    assert "CONSOLE_DEMO_LOGIN" in message and "HTTP_HOST" in message and repr(host) in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"])
def test_demo_sign_in_on_a_loopback_host_is_allowed(host: str) -> None:
    assert ConsoleSettings(jwt_secret=SECRET, console_demo_login=True, http_host=host).http_host == host


def test_a_non_loopback_host_without_demo_sign_in_is_allowed() -> None:
    assert ConsoleSettings(jwt_secret=SECRET, http_host="0.0.0.0").console_demo_login is False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_console(host: str, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "JWT_SECRET": SECRET,
        "CONSOLE_DEMO_LOGIN": "true",
        "HTTP_HOST": host,
        "HTTP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rapport_console",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_starting_with_demo_sign_in_on_0_0_0_0_is_refused() -> None:
    process = await start_console("0.0.0.0", free_port())
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        await stop(process)
    assert process.returncode == 2
    message = stderr.decode()
    assert "CONSOLE_DEMO_LOGIN" in message and "HTTP_HOST" in message and "'0.0.0.0'" in message, message


async def test_starting_with_demo_sign_in_on_127_0_0_1_is_allowed() -> None:
    port = free_port()
    process = await start_console("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 30
        config: dict[str, Any] | None = None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            while config is None and time.monotonic() < deadline:
                assert process.returncode is None, "the console exited"
                try:
                    config = (await http.get("/auth/config")).json()
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        assert config is not None and config["demo_login"] is True
    finally:
        await stop(process)
