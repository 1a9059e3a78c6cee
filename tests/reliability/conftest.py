"""The whole suite in this process: intake, session, consent and alliance-monitor, each its real FastAPI app
with its lifespan (migrations, pool, producer, outbox relay, consumers) served by uvicorn on a free port of
127.0.0.1, on the session's real PostgreSQL (a fresh database per service) and real broker (contract topics).

Real sockets, not ASGI transports: the session service asks the consent service over HTTP, and the
alert stream is an endless SSE response. Consumer groups are unique per suite, and
every group starts at the topics' current end (earlier tests' events are not replayed).

Everything logged while the suite runs is kept as the JSON lines the services print (``suite.log_lines``),
and every span ends up in an in-memory exporter (``suite.spans``), for the privacy checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rapport_alliance_monitor.app import build_app as build_monitor
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_common.events.catalog import TOPICS
from rapport_common.kafka.reading import topic_partitions
from rapport_common.logs import JsonFormatter
from rapport_common.telemetry import setup_tracing
from rapport_consent.app import build_app as build_consent
from rapport_consent.settings import ConsentSettings
from rapport_intake.app import build_app as build_intake
from rapport_intake.settings import IntakeSettings
from rapport_local.postgres import ensure_database
from rapport_session.app import build_app as build_session
from rapport_session.settings import SessionSettings

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # soak/ holds the shared harness; pytest's pythonpath=["."] covers CI runs
    sys.path.insert(0, str(ROOT))

from soak.api import Rapport  # noqa: E402

SECRET = "reliability-suite-secret-of-32-bytes!!"
SERVICES = ("intake", "session", "consent", "alliance-monitor")

_EXPORTER = InMemorySpanExporter()


class SuiteSpans(SimpleSpanProcessor):
    """Exports to the in-memory exporter only while a suite runs: the global tracer provider outlives it and
    is shared with every other test of the session, whose spans must not pile up here."""

    enabled = False
    installed = False

    def on_end(self, span: Any) -> None:
        if SuiteSpans.enabled:
            super().on_end(span)


_SPANS = SuiteSpans(_EXPORTER)


class LineKeeper(logging.Handler):
    """Keeps every record formatted exactly as the services print it (their JSON formatter)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._formatter = JsonFormatter("suite")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self._formatter.format(record))


@dataclass
class Running:
    name: str
    app: Any
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def pool(self) -> Any:
        return self.app.state.runtime.pool


@dataclass
class Suite:
    services: dict[str, Running]
    database_urls: dict[str, str]
    kafka: str
    api: Rapport
    secret: str = SECRET
    logs: LineKeeper = field(default_factory=LineKeeper)
    exporter: InMemorySpanExporter = _EXPORTER

    @property
    def urls(self) -> dict[str, str]:
        return {name: running.url for name, running in self.services.items()}

    def app(self, name: str) -> Any:
        return self.services[name].app

    def pool(self, name: str) -> Any:
        return self.services[name].pool


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _serve(name: str, app: Any, sock: socket.socket) -> Running:
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn-{name}")
    deadline = asyncio.get_running_loop().time() + 90
    while not server.started:
        if task.done():
            task.result()  # raises the lifespan's error
            raise RuntimeError(f"{name} stopped during start-up")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{name} not started within 90 s")
        await asyncio.sleep(0.05)
    port = sock.getsockname()[1]
    return Running(name, app, f"http://127.0.0.1:{port}", server, task)


async def _stop(running: Running) -> None:
    running.server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(running.task, timeout=20)


async def start_groups_at_end(kafka: str, groups: list[str], topics: list[str]) -> None:
    """Commit the current end offsets for ``groups``, so a new group starts now instead of replaying every
    earlier test's events (the shared broker may hold a hundred thousand of them)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topics)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    for group in groups:
        committer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
        await committer.start()
        try:
            committer.assign(partitions)
            await committer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
        finally:
            await committer.stop()


@contextlib.asynccontextmanager
async def running_suite(
    postgres_admin_url: str, kafka: str, idempotence: bool, **overrides: Any
) -> AsyncIterator[Suite]:
    """Start the four services (consent first: the session service calls it), yield, stop them all."""
    tag = uuid.uuid4().hex[:8]
    base = postgres_admin_url.rsplit("/", 1)[0]
    database_urls = {}
    for name in SERVICES:
        db = f"rel_{name.replace('-', '_')}_{tag}"
        await ensure_database(postgres_admin_url, db)
        database_urls[name] = f"{base}/{db}"
    sockets = {name: _socket() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "kafka_enable_idempotence": idempotence,
        "kafka_session_timeout_ms": 6000,
        "jwt_secret": SECRET,
        "outbox_poll_interval_s": 0.2,
    } | overrides.get("common", {})
    apps = {
        "intake": build_intake(IntakeSettings(database_url=database_urls["intake"], **common)),
        "consent": build_consent(
            ConsentSettings(
                database_url=database_urls["consent"], consent_consumer_group=f"rel-consent-{tag}", **common
            )
        ),
        "session": build_session(
            SessionSettings(
                database_url=database_urls["session"],
                consent_service_url=urls["consent"],
                consent_cache_ttl_s=0.0,
                consent_timeout_s=5.0,
                intake_consumer_group=f"rel-session-{tag}",
                consent_consumer_group=f"rel-session-consent-{tag}",
                **common,
            )
        ),
        "alliance-monitor": build_monitor(
            AllianceMonitorSettings(
                database_url=database_urls["alliance-monitor"],
                consumer_group=f"rel-monitor-{tag}",
                sse_heartbeat_s=1.0,
                **common,
            )
        ),
    }
    await start_groups_at_end(
        kafka, [f"rel-consent-{tag}", f"rel-monitor-{tag}", f"rel-session-{tag}"], list(TOPICS[:4])
    )
    if not SuiteSpans.installed:  # after build_app: the provider exists (or is created here), add ours once
        setup_tracing("reliability-tests", None, extra_processor=_SPANS)
        SuiteSpans.installed = True
    SuiteSpans.enabled = True
    keeper = LineKeeper()
    logging.getLogger().addHandler(keeper)  # after build_app: configure_logging replaced the root handlers
    started: dict[str, Running] = {}
    api = Rapport(urls, SECRET)
    try:
        for name in ("consent", "intake", "session", "alliance-monitor"):
            started[name] = await _serve(name, apps[name], sockets[name])
        yield Suite(started, database_urls, kafka, api, logs=keeper)
    finally:
        await api.close()
        for running in reversed(list(started.values())):
            await _stop(running)
        logging.getLogger().removeHandler(keeper)
        SuiteSpans.enabled = False
        _EXPORTER.clear()


#: the one in-process suite shared by consecutive tests that use it (see ``pytest_runtest_teardown``)
_SHARED: dict[str, Any] = {}


@pytest.fixture(scope="module")
async def suite(postgres_admin_url: str, kafka_bootstrap_servers: str, kafka_idempotence: bool) -> AsyncIterator[Suite]:
    """The running suite. Started once and shared by consecutive modules (``test_suite_*``); stopped as soon
    as the next test does not use it, so it never runs beside other directories' tests (its consumers would
    react to their events on the contract topics)."""
    if "suite" not in _SHARED:
        manager = running_suite(postgres_admin_url, kafka_bootstrap_servers, kafka_idempotence)
        _SHARED["suite"] = await manager.__aenter__()
        _SHARED["manager"] = manager
        _SHARED["loop"] = asyncio.get_running_loop()
    yield _SHARED["suite"]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if "suite" in _SHARED and (nextitem is None or "suite" not in getattr(nextitem, "fixturenames", ())):
        loop, manager = _SHARED.pop("loop"), _SHARED.pop("manager")
        _SHARED.pop("suite")
        loop.run_until_complete(manager.__aexit__(None, None, None))


@pytest.fixture(scope="session")
def token_for() -> Callable[..., str]:
    """``token_for(role, subject, ttl_s=..., audience=..., secret=...)`` -> a bearer token."""
    from rapport_common.auth import issue_token

    def make(role: str, subject: str, **kwargs: Any) -> str:
        secret = kwargs.pop("secret", SECRET)
        return issue_token(secret, subject=subject, role=role, **kwargs)

    return make
