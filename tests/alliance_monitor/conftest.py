"""Alliance-monitor service harness: the service in-process (uvicorn on a free port, so SSE streams for
real) on real PostgreSQL and the real broker.

Each test gets a fresh database and fresh input topics (``make_topics``; the monitor's ``CONSUME_TOPICS``
point at them), so the group starts from an empty history. Events are built with the domain tests'
``Events`` builder (contract models) and published with the shared producer to those topics. The monitor's
own output goes to the contract topic ``alliance.alerts``; :class:`AlertTopic` reads it from the end,
grouped by subject (every test uses its own client ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import socket
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer

from rapport_alliance_monitor.app import SPEC, build_app
from rapport_alliance_monitor.settings import DEFAULT_TOPICS, AllianceMonitorSettings
from rapport_common.auth import issue_token
from rapport_common.db.migrations import apply_migrations
from rapport_common.db.pool import create_pool
from rapport_common.events import alerts as alert_topic
from rapport_common.events import decode_event, encode_event
from rapport_common.events.codec import KafkaRecord
from rapport_common.events.envelope import CloudEvent
from rapport_common.kafka.producer import EventProducer
from rapport_common.kafka.reading import topic_partitions

SECRET = "alliance-monitor-test-secret-32-bytes!"


def _domain_fixtures() -> ModuleType:
    """The domain tests' event builder (``Events``), loaded by path (tests are not a package)."""
    name = "rapport_alliance_domain_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "domain" / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


domain_fixtures = _domain_fixtures()
Events = domain_fixtures.Events
T0 = domain_fixtures.T0
ANALYSED_SCOPES = domain_fixtures.ANALYSED_SCOPES


def token(subject: str, role: str) -> str:
    return issue_token(SECRET, subject=subject, role=role)


def auth(subject: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject, role)}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class AlertTopic:
    """Every ``alliance.alerts`` record from now on, decoded with the contract models, by subject."""

    def __init__(self, bootstrap: str) -> None:
        self.by_subject: dict[str, list[Any]] = defaultdict(list)
        self.arrived: dict[str, float] = {}
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        partitions = await topic_partitions(self._consumer, [alert_topic.TOPIC])
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
                    event = decode_event(record.value, list(record.headers or ()))
                    self.by_subject[event.subject].append(event)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def of(self, subject: str, type_suffix: str | None = None) -> list[Any]:
        return [e for e in self.by_subject[subject] if type_suffix is None or e.type.endswith(type_suffix)]

    async def wait_for(
        self, subject: str, count: int, type_suffix: str | None = None, *, within: float = 20.0, settle: float = 0.0
    ) -> list[Any]:
        """The subject's events (of ``type_suffix``) once at least ``count`` arrived, after ``settle`` s more."""
        deadline = asyncio.get_running_loop().time() + within
        while len(self.of(subject, type_suffix)) < count:
            if asyncio.get_running_loop().time() > deadline:
                got = [(e.type, getattr(e.data, "rule", "")) for e in self.by_subject[subject]]
                raise AssertionError(f"expected {count} {type_suffix or 'events'} for {subject}, got {got}")
            await asyncio.sleep(0.02)
        if settle:
            await asyncio.sleep(settle)
        return self.of(subject, type_suffix)


@pytest.fixture(scope="session")
async def alert_topic_reader(kafka_bootstrap_servers: str) -> AsyncIterator[AlertTopic]:
    reader = AlertTopic(kafka_bootstrap_servers)
    await reader.start()
    yield reader
    await reader.stop()


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap_servers: str, kafka_idempotence: bool) -> AsyncIterator[EventProducer]:
    p = EventProducer(kafka_bootstrap_servers, enable_idempotence=kafka_idempotence, client_id="alliance-tests")
    await p.start()
    yield p
    await p.stop()


@dataclass
class RunningMonitor:
    app: Any
    url: str
    http: httpx.AsyncClient


class MonitorEnv:
    """One test's monitor deployment: database, input topics, consumer group, and ways to run instances."""

    def __init__(
        self, database_url: str, topics: list[str], bootstrap: str, idempotence: bool, producer: EventProducer
    ):
        self.database_url = database_url
        self.topics = dict(zip(DEFAULT_TOPICS, topics, strict=True))
        self.bootstrap = bootstrap
        self.idempotence = idempotence
        self.producer = producer
        self.group = unique("alliance-monitor")

    def settings(self, **overrides: Any) -> AllianceMonitorSettings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_enable_idempotence": self.idempotence,
            "kafka_session_timeout_ms": 6000,
            "kafka_fetch_max_wait_ms": 10,
            "jwt_secret": SECRET,
            "consumer_group": self.group,
            "consume_topics": list(self.topics.values()),
            "consent_hold_seconds": 1.0,
            "consent_hold_poll_s": 0.1,
            "sse_heartbeat_s": 1.0,
            "log_level": "WARNING",
        }
        values.update(overrides)
        return AllianceMonitorSettings(**values)

    async def publish(self, *events: CloudEvent[Any]) -> None:
        """Publish to this test's input topics, in order (same client: same partition, order kept)."""
        records = []
        for event in events:
            record = encode_event(event)
            records.append(KafkaRecord(self.topics[record.topic], record.key, record.value, record.headers))
        acked = await self.producer.publish(records)
        assert all(acked), "the broker refused a test record"

    @contextlib.asynccontextmanager
    async def running(self, **overrides: Any) -> AsyncIterator[RunningMonitor]:
        """A monitor instance serving HTTP on a free port, its lifespan (consumers, jobs) running."""
        app = build_app(self.settings(**overrides))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("monitor did not start")
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            try:
                yield RunningMonitor(app, url, http)
            finally:
                server.should_exit = True
                await task

    async def db(self) -> asyncpg.Connection:
        """A connection to the monitor's database; jsonb comes back as Python objects."""
        conn = await asyncpg.connect(self.database_url)
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        return conn

    async def onboard(self, *stories: Any, **kw: Any) -> None:
        """Publish the stories' onboarding and wait until it is analysed (clinician known, client assigned,
        consents recorded): intake, consent and session events travel on different topics, so a test that
        needs them in place (working hours, consent) before its session events waits here."""
        await self.publish(*(e for s in stories for e in s.onboarding(**kw)))
        await self.wait_onboarded(*stories, scopes=kw.get("scopes", ANALYSED_SCOPES))

    async def wait_onboarded(self, *stories: Any, scopes: tuple[str, ...] = ANALYSED_SCOPES) -> None:
        async def analysed() -> bool:
            conn = await self.db()
            try:
                for s in stories:
                    client = await conn.fetchrow(
                        "SELECT clinician_id, state FROM client_states WHERE client_id = $1", s.client_id
                    )
                    known = await conn.fetchval(
                        "SELECT 1 FROM clinician_states WHERE clinician_id = $1", s.clinician_id
                    )
                    if client is None or not known or client["clinician_id"] != s.clinician_id:
                        return False
                    if len(client["state"]["consents"]["records"]) < len(scopes):
                        return False
                return True
            finally:
                await conn.close()

        await self.wait_until(analysed, what="the onboarding")

    async def wait_for_starts(self, client_id: str, count: int) -> None:
        """Wait until the pair state holds ``count`` session starts. Topics are not ordered against each
        other, so feedback published right after its session start may be consumed first; tests whose rule
        reads session numbers publish the feedback once the starts are in."""

        async def recorded() -> bool:
            conn = await self.db()
            try:
                states = await conn.fetch("SELECT state FROM pair_states WHERE client_id = $1", client_id)
                return any(len(row["state"]["session_starts"]) >= count for row in states)
            finally:
                await conn.close()

        await self.wait_until(recorded, what=f"{count} session starts of {client_id}")

    async def wait_until(self, check: Callable[[], Awaitable[bool]], *, within: float = 20.0, what: str = "") -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def monitor_env(
    make_database: Callable[..., Awaitable[str]],
    make_topics: Callable[..., Awaitable[list[str]]],
    kafka_bootstrap_servers: str,
    kafka_idempotence: bool,
    producer: EventProducer,
) -> MonitorEnv:
    database_url = await make_database("alliance")
    topics = await make_topics(DEFAULT_TOPICS)  # t<hex>.intake.events ...: topic ownership applies in full
    return MonitorEnv(database_url, topics, kafka_bootstrap_servers, kafka_idempotence, producer)


class Story:
    """A client's events with a registered clinician, assignment and the consents the monitor gates on."""

    def __init__(self, *, clinician_id: str | None = None, supervisor_id: str | None = None) -> None:
        self.client_id = unique("client")
        self.clinician_id = clinician_id or unique("clinician")
        self.supervisor_id = supervisor_id
        self.ev = Events(self.client_id, self.clinician_id)

    def clinician(self, **kw: Any) -> Any:
        event = self.ev.clinician(**kw)
        if self.supervisor_id is None:
            return event
        data = event.data.model_copy(update={"supervisor_id": self.supervisor_id})
        return event.model_copy(update={"data": data})

    def onboarding(self, *, scopes: tuple[str, ...] = ANALYSED_SCOPES, baseline: float | None = 18.0) -> list[Any]:
        """Clinician and client registered, consents granted, intake (baseline ORS), assignment."""
        events = [self.clinician(), self.ev.client_registered()]
        events += [self.ev.grant(scope) for scope in scopes]
        events += [self.ev.intake(baseline), self.ev.assigned()]
        return events


@pytest.fixture
def story() -> Callable[..., Story]:
    return Story


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: dict[str, Any]
    received: float


class SseReader:
    """An SSE client reading ``/alerts/stream`` in the background (real HTTP, httpx streaming)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.events: list[SseEvent] = []
        self.comments = 0
        self.status: int | None = None
        #: loop time at which the server ended the stream (None while it is open)
        self.ended: float | None = None
        self._opened = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SseReader:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._opened.wait(), timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", self.url + "/alerts/stream", headers=self.headers) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                self._opened.set()
                return
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "data" in fields:
                        self.events.append(
                            SseEvent(fields.get("id"), fields.get("event"), json.loads(fields["data"]), loop.time())
                        )
                    fields = {}
                elif line.startswith(":"):
                    self.comments += 1
                    self._opened.set()
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
            self.ended = loop.time()

    def alerts(self, action: str = "raised") -> list[dict[str, Any]]:
        return [e.data["alert"] for e in self.events if e.event == f"alert-{action}"]

    async def wait_for(self, count: int, *, within: float = 10.0) -> list[SseEvent]:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.events) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} SSE events, got {[(e.event, e.id) for e in self.events]}")
            await asyncio.sleep(0.01)
        return self.events


class Kit:
    """Plain helpers for the tests (test modules cannot import this conftest under importlib mode)."""

    T0 = T0
    Events = Events
    ANALYSED_SCOPES = ANALYSED_SCOPES
    SECRET = SECRET
    token = staticmethod(token)
    auth = staticmethod(auth)
    unique = staticmethod(unique)
    SseReader = SseReader


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
async def monitor_pool(make_database: Callable[..., Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    """A migrated monitor database (real PostgreSQL) with no service running: for the store and use cases."""
    url = await make_database("am_store")
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, SPEC.name, SPEC.migrations)
    finally:
        await conn.close()
    pool = await create_pool(url)
    try:
        yield pool
    finally:
        await pool.close()
