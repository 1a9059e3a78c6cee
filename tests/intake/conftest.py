"""Intake test fixtures: one intake app (real PostgreSQL, real broker) shared by the module's tests, an event
tap on the contract topics it publishes to, and token helpers.

Every test makes fresh UUID ids, so tests sharing the app and the topics never see each other's events:
the tap groups decoded events by subject (the record key).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from rapport_common.auth import issue_token
from rapport_common.events import EventDecodeError, decode_event
from rapport_common.kafka.reading import topic_partitions
from rapport_intake.app import build_app
from rapport_intake.settings import IntakeSettings

JWT_SECRET = "intake-test-secret-of-at-least-32-bytes"
TAPPED_TOPICS = ("intake.events", "feedback.events")


def make_auth(role: str, subject: str | None = None) -> dict[str, str]:
    """Bearer header for ``role`` (subject defaults to a fresh id)."""
    token = issue_token(JWT_SECRET, subject=subject or new_id(role), role=role)
    return {"Authorization": f"Bearer {token}"}


def new_id(prefix: str = "id") -> str:
    return f"{prefix}-{uuid.uuid4()}"


@dataclass
class EventTap:
    """Reads the intake topics from their end at session start; every record is decoded with the shared
    contract models. Records that fail to decode are kept in ``invalid``, never silently skipped."""

    consumer: AIOKafkaConsumer
    by_subject: dict[str, list[tuple[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    invalid: list[tuple[str, bytes | None, str]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    try:
                        event = decode_event(record.value, record.headers)
                    except EventDecodeError as exc:
                        self.invalid.append((tp.topic, record.key, str(exc)))
                        continue
                    if record.key != event.subject.encode():
                        self.invalid.append((tp.topic, record.key, "record key is not the subject"))
                    self.by_subject[event.subject].append((tp.topic, event))
            if batches:
                self._changed.set()

    async def events_for(self, subject: str, count: int, *, timeout_s: float = 15.0, settle_s: float = 0.5) -> list:
        """Wait until ``subject`` has ``count`` events, then a little longer so extras would show up too."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.by_subject[subject]) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))
        await asyncio.sleep(settle_s)
        return list(self.by_subject[subject])


@pytest.fixture(scope="session")
async def event_tap(kafka_bootstrap_servers: str) -> AsyncIterator[EventTap]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    partitions = await topic_partitions(consumer, TAPPED_TOPICS)
    if not partitions:
        await consumer.stop()
        raise RuntimeError(f"topics {TAPPED_TOPICS} missing on {kafka_bootstrap_servers}")
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:  # resolve the end offsets now, before any test publishes
        await consumer.position(tp)
    tap = EventTap(consumer)
    task = asyncio.create_task(tap.run())
    try:
        yield tap
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


@dataclass
class IntakeUnderTest:
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    database_url: str


async def _fresh_database(admin_url: str) -> str:
    name = f"intake_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
async def intake(
    postgres_admin_url: str, kafka_bootstrap_servers: str, kafka_idempotence: bool, event_tap: EventTap
) -> AsyncIterator[IntakeUnderTest]:
    """The intake service in-process with its lifespan (migrations, pool, producer, outbox relay)."""
    database_url = await _fresh_database(postgres_admin_url)
    settings = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        kafka_enable_idempotence=kafka_idempotence,
        jwt_secret=JWT_SECRET,
        outbox_poll_interval_s=0.2,
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield IntakeUnderTest(http=http, pool=app.state.runtime.pool, database_url=database_url)


WORKING_HOURS = [
    {"weekday": 0, "start": "09:00", "end": "12:00"},
    {"weekday": 0, "start": "13:00", "end": "17:00"},
    {"weekday": 3, "start": "10:00", "end": "18:30"},
]

ORS = {"individual": 5.5, "interpersonal": 6.0, "social": 4.2, "overall": 5.1}


@pytest.fixture
def register_clinician(intake: IntakeUnderTest) -> Callable[..., Any]:
    """``await register_clinician(supervisor_id=...)`` -> the 201 body (registered by a service)."""

    async def register(**fields: Any) -> dict[str, Any]:
        body = {"display_name": "Dr. Test", "timezone": "Europe/Berlin", "working_hours": WORKING_HOURS}
        body |= {"clinician_id": new_id("clin")} | fields
        response = await intake.http.post("/clinicians", json=body, headers=make_auth("service"))
        assert response.status_code == 201, response.text
        return dict(response.json())

    return register


@pytest.fixture
def register_client(intake: IntakeUnderTest) -> Callable[..., Any]:
    async def register(**fields: Any) -> dict[str, Any]:
        body = {"age_band": "adult", "timezone": "America/New_York", "client_id": new_id("client")} | fields
        response = await intake.http.post("/clients", json=body, headers=make_auth("service"))
        assert response.status_code == 201, response.text
        return dict(response.json())

    return register


@pytest.fixture
def assign(intake: IntakeUnderTest) -> Callable[..., Any]:
    async def do(client_id: str, clinician_id: str, *, expect: int = 201) -> dict[str, Any]:
        response = await intake.http.post(
            f"/clients/{client_id}/assignments", json={"clinician_id": clinician_id}, headers=make_auth("service")
        )
        assert response.status_code == expect, response.text
        return dict(response.json())

    return do


def make_intake_body(**fields: Any) -> dict[str, Any]:
    return {
        "presenting_concerns": ["low mood", "sleep"],
        "goals": ["Get back to running with my sister", "Sleep through the night"],
        "baseline_ors": dict(ORS),
    } | fields


# -- helpers as fixtures (tests cannot import conftest under --import-mode=importlib) ---------------------


@pytest.fixture(scope="session")
def auth() -> Callable[..., dict[str, str]]:
    """``auth(role, subject=None)`` -> a Bearer header."""
    return make_auth


@pytest.fixture(scope="session")
def ids() -> Callable[[str], str]:
    """``ids("client")`` -> a fresh unique id."""
    return new_id


@pytest.fixture(scope="session")
def intake_body() -> Callable[..., dict[str, Any]]:
    """``intake_body(**overrides)`` -> a valid intake questionnaire body."""
    return make_intake_body


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    """The HS256 secret the intake app under test verifies tokens with."""
    return JWT_SECRET
