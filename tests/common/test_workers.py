"""Background workers: the polling loop's error handling, and how the service runtime runs workers
(started after the consumers, stopped at once at shutdown, a failed worker makes the service not ready)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from rapport_common.service import ServiceRuntime, ServiceSpec, create_app, no_parts
from rapport_common.settings import ServiceSettings
from rapport_common.workers import PollingWorker


class Boom(Exception):
    pass


async def _rounds(worker: PollingWorker, seconds: float) -> None:
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(seconds)
    worker.stop()
    await asyncio.wait_for(task, 1)


async def test_rounds_repeat_until_stopped_and_stop_is_prompt() -> None:
    calls: list[float] = []

    async def round() -> None:
        calls.append(time.monotonic())

    worker = PollingWorker("w", round, poll_s=0.05)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)
    stopped = time.monotonic()
    worker.stop()
    await asyncio.wait_for(task, 1)
    assert len(calls) >= 3
    assert time.monotonic() - stopped < 0.1  # the wait between rounds ends on stop, not after poll_s


async def test_a_transient_database_error_is_waited_out_even_when_errors_end_the_worker() -> None:
    calls = 0

    async def round() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncpg.exceptions.CannotConnectNowError("starting up")

    worker = PollingWorker("w", round, poll_s=0.02, keep_going=False)
    await _rounds(worker, 0.2)
    assert calls >= 3


async def test_other_errors_are_retried_or_end_the_worker_as_asked() -> None:
    calls = 0

    async def round() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    await _rounds(PollingWorker("w", round, poll_s=0.02, keep_going=True), 0.2)
    assert calls >= 3
    with pytest.raises(Boom):
        await asyncio.wait_for(PollingWorker("w", round, poll_s=0.02, keep_going=False).run(), 1)


@pytest.fixture
async def failing_service(make_database: Any, kafka_bootstrap_servers: str) -> AsyncIterator[httpx.AsyncClient]:
    """A service with two workers: one resting 60 s between rounds, one whose round always fails."""

    async def fail() -> None:
        raise Boom

    async def rest() -> None:
        return None

    def workers(runtime: ServiceRuntime) -> list[PollingWorker]:
        return [
            PollingWorker("steady", rest, poll_s=60),
            PollingWorker("doomed", fail, poll_s=0.01, keep_going=False),
        ]

    settings = ServiceSettings(
        database_url=await make_database(),
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        kafka_enable_idempotence=False,
        jwt_secret="s" * 32,
    )
    spec = ServiceSpec[ServiceSettings, None](
        name="workers-test", settings_cls=ServiceSettings, migrations=None, compose=no_parts, workers=workers
    )
    app = create_app(spec, settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        runtime: ServiceRuntime = app.state.runtime
        assert [w.name for w in runtime.workers] == ["steady", "doomed"]
        yield http
        stopping = time.monotonic()
    # the worker resting 60 s between rounds was told to stop: shutdown did not wait for its next round
    assert time.monotonic() - stopping < 5


async def test_a_failed_worker_makes_the_service_not_ready_and_shutdown_does_not_wait_for_rounds(
    failing_service: httpx.AsyncClient,
) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        ready = await failing_service.get("/readyz")
        if ready.status_code == 503 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert ready.status_code == 503
    assert ready.json()["checks"]["workers"] is False
    assert ready.json()["checks"]["database"] is True
