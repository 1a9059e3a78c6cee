"""Consent test fixtures: the consent service in-process (real PostgreSQL, real broker) shared by the tests,
a feed that publishes intake events it learns clients and assignments from, a tap on `consent.events`
that decodes every record with the shared contract models, and token helpers.

Every test uses fresh UUID ids, so tests sharing the app, the database and the topics never see each
other's consents or events (the tap groups events by subject). Tests that damage the ledger on purpose
start their own service on their own database (``fresh_consent_service``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rapport_common.auth import issue_token
from rapport_common.clock import Clock
from rapport_common.events import EventDecodeError, decode_event, encode_event, new_event
from rapport_common.events.intake import (
    ClientRegistered,
    ClientRegisteredData,
    ClinicianAssigned,
    ClinicianAssignedData,
)
from rapport_common.kafka.reading import topic_partitions
from rapport_consent.app import build_app
from rapport_consent.settings import ConsentSettings

JWT_SECRET = "consent-test-secret-of-at-least-32-bytes"
CONSENT_TOPIC = "consent.events"


def make_auth(role: str, subject: str | None = None) -> dict[str, str]:
    token = issue_token(JWT_SECRET, subject=subject or new_id(role), role=role)
    return {"Authorization": f"Bearer {token}"}


def new_id(prefix: str = "id") -> str:
    return f"{prefix}-{uuid.uuid4()}"


@dataclass
class EventTap:
    """Reads `consent.events` from its end at session start; undecodable records land in ``invalid``."""

    consumer: AIOKafkaConsumer
    by_subject: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    invalid: list[tuple[bytes | None, str]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=500)
            for records in batches.values():
                for record in records:
                    try:
                        event = decode_event(record.value, record.headers)
                    except EventDecodeError as exc:
                        self.invalid.append((record.key, str(exc)))
                        continue
                    if record.key != event.subject.encode():
                        self.invalid.append((record.key, "record key is not the subject"))
                    self.by_subject[event.subject].append(event)
            if batches:
                self._changed.set()

    async def events_for(self, subject: str, count: int, *, timeout_s: float = 15.0, settle_s: float = 0.5) -> list:
        """Wait until ``subject`` has ``count`` events, then ``settle_s`` more so extras would show up."""
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
async def consent_tap(kafka_bootstrap_servers: str) -> AsyncIterator[EventTap]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    partitions = await topic_partitions(consumer, [CONSENT_TOPIC])
    if not partitions:
        await consumer.stop()
        raise RuntimeError(f"topic {CONSENT_TOPIC} missing on {kafka_bootstrap_servers}")
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
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
class ConsentUnderTest:
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    database_url: str
    settings: ConsentSettings


async def _fresh_database(admin_url: str) -> str:
    name = f"consent_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


@contextlib.asynccontextmanager
async def _running(
    admin_url: str, bootstrap: str, idempotence: bool, *, clock: Clock | None = None
) -> AsyncIterator[ConsentUnderTest]:
    database_url = await _fresh_database(admin_url)
    settings = ConsentSettings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=idempotence,
        kafka_session_timeout_ms=6000,
        jwt_secret=JWT_SECRET,
        outbox_poll_interval_s=0.2,
        consent_consumer_group=new_id("consent-test"),
        consent_expiry_interval_s=0.2,
        database_pool_max=20,
    )
    app = build_app(settings, clock=clock)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://consent") as http:
                pool = app.state.runtime.pool
                yield ConsentUnderTest(http=http, pool=pool, database_url=database_url, settings=settings)
    finally:  # on a shared server (env mode) leave nothing behind
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database_url.rpartition("/")[2]}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
async def consent(
    postgres_admin_url: str, kafka_bootstrap_servers: str, kafka_idempotence: bool, consent_tap: EventTap
) -> AsyncIterator[ConsentUnderTest]:
    """The consent service in-process with its lifespan (migrations, consumer, relay, expiry job)."""
    async with _running(postgres_admin_url, kafka_bootstrap_servers, kafka_idempotence) as service:
        yield service


@pytest.fixture(scope="module")
async def own_consent(
    postgres_admin_url: str, kafka_bootstrap_servers: str, kafka_idempotence: bool
) -> AsyncIterator[ConsentUnderTest]:
    """A consent service on its own database for one test module: for tests that change what every other
    test relies on (publishing a document version changes which version a grant picks by default)."""
    async with _running(postgres_admin_url, kafka_bootstrap_servers, kafka_idempotence) as service:
        yield service


@pytest.fixture
def consent_service_on(
    postgres_admin_url: str, kafka_bootstrap_servers: str, kafka_idempotence: bool
) -> Callable[[Clock], contextlib.AbstractAsyncContextManager[ConsentUnderTest]]:
    """``async with consent_service_on(clock) as svc``: a service on its own database reading ``clock``."""
    return lambda clock: _running(postgres_admin_url, kafka_bootstrap_servers, kafka_idempotence, clock=clock)


@pytest.fixture
def fresh_consent_service(
    postgres_admin_url: str, kafka_bootstrap_servers: str, kafka_idempotence: bool
) -> Callable[[], contextlib.AbstractAsyncContextManager[ConsentUnderTest]]:
    """``async with fresh_consent_service() as svc``: a second service on its own database."""
    return lambda: _running(postgres_admin_url, kafka_bootstrap_servers, kafka_idempotence)


@pytest.fixture(scope="session")
async def intake_producer(kafka_bootstrap_servers: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def _publish(producer: AIOKafkaProducer, event: Any) -> None:
    record = encode_event(event)
    await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)


async def _wait_for_row(pool: asyncpg.Pool, sql: str, *args: Any, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await pool.fetchval(sql, *args):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"intake projection not updated in {timeout_s}s: {sql} {args}")
        await asyncio.sleep(0.05)


Register = Callable[..., Awaitable[tuple[str, str]]]


def _register_with(producer: AIOKafkaProducer) -> Callable[[ConsentUnderTest], Register]:
    def bind(service: ConsentUnderTest) -> Register:
        async def register(age_band: str = "adult", clinician_id: str | None = None) -> tuple[str, str]:
            """Publish client-registered + clinician-assigned on intake.events; wait until the service knows."""
            client_id, clinician_id = new_id("client"), clinician_id or new_id("clin")
            now = datetime.now(UTC)
            await _publish(
                producer,
                new_event(
                    ClientRegistered,
                    subject=client_id,
                    source="/rapport/intake",
                    data=ClientRegisteredData(client_id=client_id, age_band=age_band, timezone="Europe/Berlin"),
                ),
            )
            await _publish(
                producer,
                new_event(
                    ClinicianAssigned,
                    subject=client_id,
                    source="/rapport/intake",
                    data=ClinicianAssignedData(client_id=client_id, clinician_id=clinician_id, assigned_at=now),
                ),
            )
            await _wait_for_row(
                service.pool,
                "SELECT EXISTS (SELECT 1 FROM clients c JOIN assignments a USING (client_id) WHERE client_id = $1)",
                client_id,
            )
            return client_id, clinician_id

        return register

    return bind


@pytest.fixture
def register(consent: ConsentUnderTest, intake_producer: AIOKafkaProducer) -> Register:
    """``client_id, clinician_id = await register("adolescent")`` through intake.events."""
    return _register_with(intake_producer)(consent)


@pytest.fixture
def register_in(intake_producer: AIOKafkaProducer) -> Callable[[ConsentUnderTest], Register]:
    """``register_in(other_service)`` -> the same helper for a service from ``fresh_consent_service``."""
    return _register_with(intake_producer)


@pytest.fixture(scope="session")
def auth() -> Callable[..., dict[str, str]]:
    """``auth(role, subject=None)`` -> a Bearer header."""
    return make_auth


@pytest.fixture(scope="session")
def ids() -> Callable[[str], str]:
    return new_id


PART2 = {
    "disclosing_party": "Rapport SUD program",
    "information": "Diagnosis and dates of treatment for substance use disorder",
    "recipients": ["Dr. Primary Care, City Clinic"],
    "purpose": "Coordination of care",
    "expires_at": "2031-01-01T00:00:00+00:00",
    "right_to_revoke_acknowledged": True,
    "redisclosure_notice_acknowledged": True,
}


@pytest.fixture(scope="session")
def part2() -> dict[str, Any]:
    """A complete set of 42 CFR 2.31 elements (copy before changing)."""
    return dict(PART2)
