"""Session-service test harness: the service in-process on real PostgreSQL and the real broker.

The only fake is the consent service's check endpoint (``FakeConsent``): a tiny HTTP server of our own
running in-process, because the real consent service is built concurrently by another engineer. It
answers ``GET /consents/check?client_id=&scope=`` with ``{"active": bool}`` from the grants a test set,
and can be switched to fail (500) or hang (no answer before the client's timeout).

Events are read back from the broker with a plain consumer and decoded with the shared contract models.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse

from rapport_common.auth import issue_token
from rapport_common.clock import ManualClock
from rapport_common.events import decode_event, encode_event
from rapport_common.events.envelope import new_event
from rapport_common.events.intake import (
    ClientRegistered,
    ClientRegisteredData,
    ClinicianAssigned,
    ClinicianAssignedData,
)
from rapport_common.kafka.producer import EventProducer
from rapport_common.kafka.reading import topic_partitions
from rapport_local.postgres import ensure_database
from rapport_session.app import build_app
from rapport_session.settings import SessionSettings

SECRET = "session-test-secret-of-32-bytes!!"
ALL_SCOPES = (
    "telehealth-treatment",
    "session-recording",
    "measurement-feedback",
    "alliance-analytics",
    "message-scanning",
)
#: the tests' clock starts here and only moves forward
T0 = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)


class FakeConsent:
    """In-process stand-in for the consent service's check endpoint (the only fake in these tests)."""

    def __init__(self) -> None:
        self.grants: set[tuple[str, str]] = set()
        self.mode = "up"  # "up" | "error" | "hang"
        self.calls = 0
        self.port = 0
        app = FastAPI()

        @app.get("/consents/check")
        async def check(client_id: str = Query(), scope: str = Query()) -> JSONResponse:
            self.calls += 1
            if self.mode == "error":
                return JSONResponse({"detail": "down"}, status_code=503)
            if self.mode == "hang":
                await asyncio.sleep(5)
            return JSONResponse({"client_id": client_id, "scope": scope, "active": (client_id, scope) in self.grants})

        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        self._task: asyncio.Task[None] | None = None

    def grant(self, client_id: str, *scopes: str) -> None:
        for scope in scopes or ALL_SCOPES:
            self.grants.add((client_id, scope))

    def revoke(self, client_id: str, scope: str) -> None:
        self.grants.discard((client_id, scope))

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task


class EventCollector:
    """Every record of the given topics from now on, decoded with the contract models, grouped by subject."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.by_subject: dict[str, list[Any]] = defaultdict(list)
        self.invalid: list[str] = []
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        partitions = await topic_partitions(self._consumer, self.topics)
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100, max_records=2000)
            for records in batches.values():
                for record in records:
                    try:
                        event = decode_event(record.value, list(record.headers or ()))
                    except Exception as exc:
                        self.invalid.append(str(exc))
                        continue
                    self.by_subject[event.subject].append(event)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def wait_for(self, subject: str, count: int, *, within: float = 15.0, settle: float = 0.5) -> list[Any]:
        """The subject's events once at least ``count`` arrived, after ``settle`` s more (to catch extras)."""
        deadline = asyncio.get_running_loop().time() + within
        while len(self.by_subject[subject]) < count:
            if asyncio.get_running_loop().time() > deadline:
                got = [e.type for e in self.by_subject[subject]]
                raise AssertionError(f"expected {count} events for {subject}, got {len(got)}: {got}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle)
        return list(self.by_subject[subject])


@dataclass
class Service:
    """A running session service and what tests need around it."""

    app: Any
    http: httpx.AsyncClient
    clock: ManualClock
    settings: SessionSettings
    consent: FakeConsent
    events: EventCollector
    producer: EventProducer
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app.state.runtime.pool

    def headers(self, role: str, subject: str) -> dict[str, str]:
        return {"authorization": f"Bearer {issue_token(SECRET, subject=subject, role=role)}"}

    def as_client(self, client_id: str) -> dict[str, str]:
        return self.headers("client", client_id)

    def as_clinician(self, clinician_id: str) -> dict[str, str]:
        return self.headers("clinician", clinician_id)

    def as_service(self) -> dict[str, str]:
        return self.headers("service", "video-gateway")

    @staticmethod
    def types(events: list[Any]) -> list[str]:
        """``["session.scheduled", "feedback.srs-submitted", ...]``"""
        return [event.type.removeprefix("rapport.") for event in events]

    async def assign(self, client_id: str, clinician_id: str, *, age_band: str = "adult") -> None:
        """Publish the intake events that tell the service who the client is and who treats them."""
        at = self.clock.now()
        registered = new_event(
            ClientRegistered,
            subject=client_id,
            source="/rapport/intake",
            time=at,
            data=ClientRegisteredData(client_id=client_id, age_band=age_band, timezone="Europe/Berlin"),
        )
        assigned = new_event(
            ClinicianAssigned,
            subject=client_id,
            source="/rapport/intake",
            time=at,
            data=ClinicianAssignedData(client_id=client_id, clinician_id=clinician_id, assigned_at=at),
        )
        for event in (registered, assigned):
            await self.producer.send(encode_event(event))
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            row = await self.pool.fetchrow(
                "SELECT a.clinician_id, c.age_band FROM assignments a JOIN clients c USING (client_id) "
                "WHERE client_id = $1",
                client_id,
            )
            if row is not None and row["clinician_id"] == clinician_id:
                return
            assert asyncio.get_running_loop().time() < deadline, "intake events not applied in 30 s"
            await asyncio.sleep(0.05)

    async def publish_consent(self, event_cls: Any, data: Any, *, consent_id: str, wait_for: str = "row") -> None:
        """Publish a contract event to ``consent.events`` (as the consent service would) and wait until the
        local consent view has applied it (``wait_for``: "row" = the consent's row exists, "end" = it ended)."""
        event = new_event(
            event_cls, subject=data.client_id, source="/rapport/consent", time=self.clock.now(), data=data
        )
        await self.producer.send(encode_event(event))
        deadline = asyncio.get_running_loop().time() + 30
        column = "valid_from" if wait_for == "row" else "ended_at"
        while await self.pool.fetchval(f"SELECT {column} FROM consent_view WHERE consent_id = $1", consent_id) is None:
            assert asyncio.get_running_loop().time() < deadline, "consent event not applied in 30 s"
            await asyncio.sleep(0.05)

    async def pair(self, *, scopes: tuple[str, ...] = ALL_SCOPES) -> tuple[str, str]:
        """A fresh client assigned to a fresh clinician, with the given consents granted."""
        client_id, clinician_id = f"client-{uuid.uuid4().hex[:10]}", f"clinician-{uuid.uuid4().hex[:10]}"
        await self.assign(client_id, clinician_id)
        for scope in scopes:
            self.consent.grants.add((client_id, scope))
        return client_id, clinician_id

    async def schedule(
        self, client_id: str, clinician_id: str, *, start_in: timedelta = timedelta(days=2), minutes: int = 50
    ) -> dict[str, Any]:
        start = self.clock.now() + start_in
        response = await self.http.post(
            "/sessions",
            json={
                "client_id": client_id,
                "scheduled_start": start.isoformat(),
                "scheduled_end": (start + timedelta(minutes=minutes)).isoformat(),
                "modality": "video",
            },
            headers=self.as_clinician(clinician_id),
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


def settings_for(
    database_url: str, bootstrap: str, consent_port: int, *, idempotence: bool, **overrides: Any
) -> SessionSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap,
        "kafka_enable_idempotence": idempotence,
        "kafka_session_timeout_ms": 6000,
        "jwt_secret": SECRET,
        "consent_service_url": f"http://127.0.0.1:{consent_port}",
        "consent_cache_ttl_s": 0.0,
        "timer_poll_interval_s": 0.1,
        "outbox_poll_interval_s": 0.1,
        "log_level": "WARNING",
        # one consumer group per database: services on different databases are different deployments
        "intake_consumer_group": f"session-intake-{database_url.rsplit('/', 1)[1]}",
        "consent_consumer_group": f"session-consent-{database_url.rsplit('/', 1)[1]}",
    }
    values.update(overrides)
    return SessionSettings(**values)


@contextlib.asynccontextmanager
async def running(settings: SessionSettings, clock: ManualClock) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The service app with its lifespan (migrations, relay, consumers, timer job) and an HTTP client."""
    app = build_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://session") as http:
            yield app, http


@pytest.fixture(scope="session")
async def consent_fake() -> AsyncIterator[FakeConsent]:
    fake = FakeConsent()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="session")
async def event_log(kafka_bootstrap_servers: str) -> AsyncIterator[EventCollector]:
    collector = EventCollector(kafka_bootstrap_servers, ["session.events", "feedback.events"])
    await collector.start()
    yield collector
    await collector.stop()


@pytest.fixture(scope="session")
async def intake_producer(kafka_bootstrap_servers: str, kafka_idempotence: bool) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap_servers, enable_idempotence=kafka_idempotence, client_id="session-tests")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
async def session_db_factory(postgres_admin_url: str) -> Any:
    async def make() -> str:
        name = f"session_{uuid.uuid4().hex[:10]}"
        await ensure_database(postgres_admin_url, name)
        return postgres_admin_url.rsplit("/", 1)[0] + "/" + name

    return make


@pytest.fixture(scope="session")
async def svc(
    kafka_bootstrap_servers: str,
    kafka_idempotence: bool,
    session_db_factory: Any,
    consent_fake: FakeConsent,
    event_log: EventCollector,
    intake_producer: EventProducer,
) -> AsyncIterator[Service]:
    """One session service shared by the tests (each test uses its own client and clinician ids)."""
    clock = ManualClock(T0)
    settings = settings_for(
        await session_db_factory(), kafka_bootstrap_servers, consent_fake.port, idempotence=kafka_idempotence
    )
    async with running(settings, clock) as (app, http):
        yield Service(app, http, clock, settings, consent_fake, event_log, intake_producer)


@pytest.fixture
def make_service(
    kafka_bootstrap_servers: str,
    kafka_idempotence: bool,
    session_db_factory: Any,
    consent_fake: FakeConsent,
    event_log: EventCollector,
    intake_producer: EventProducer,
) -> Any:
    """Factory for a service on its own database, for restart tests: ``async with make_service(db, clock)``."""

    @contextlib.asynccontextmanager
    async def start(database_url: str | None, clock: ManualClock, **overrides: Any) -> AsyncIterator[Service]:
        url = database_url or await session_db_factory()
        settings = settings_for(
            url, kafka_bootstrap_servers, consent_fake.port, idempotence=kafka_idempotence, **overrides
        )
        async with running(settings, clock) as (app, http):
            yield Service(app, http, clock, settings, consent_fake, event_log, intake_producer)

    return start
