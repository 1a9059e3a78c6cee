"""Wiring every service shares: a FastAPI app whose lifespan runs the pool, producer, outbox relay,
Kafka consumers and background workers, plus the ``serve``/``migrate`` command line.

A service describes itself with a :class:`ServiceSpec`, its composition root: its settings class, the parts
of its own it builds at start (``compose``, typed: no string-keyed extras), its consumers and its workers.
Everything else (health, readiness, metrics, tracing, logging, auth, refusals, clean shutdown) is the same
everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from rapport_common.application.handlers import EventHandlers
from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import TokenVerifier
from rapport_common.clock import Clock, SystemClock
from rapport_common.db.migrations import apply_migrations
from rapport_common.db.outbox import OutboxRelay
from rapport_common.db.pool import TRANSIENT_DB_ERRORS, create_pool
from rapport_common.http import install_http_conventions
from rapport_common.kafka.consumer import BatchConsumer
from rapport_common.kafka.producer import EventProducer
from rapport_common.logs import configure_logging
from rapport_common.refusal import StartRefused, install_refusals
from rapport_common.settings import ServiceSettings, load_settings
from rapport_common.telemetry import redact_url_attributes, setup_tracing
from rapport_common.workers import Worker

log = logging.getLogger(__name__)


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
#: the parts a service builds for itself at start (clients of other services, caches, hubs); None if none
PartsT = TypeVar("PartsT")


@dataclass(frozen=True)
class Foundation(Generic[SettingsT]):
    """What exists when a service composes its own parts."""

    settings: SettingsT
    pool: asyncpg.Pool
    producer: EventProducer
    clock: Clock
    #: the consumer of a group id, once consumers exist (KeyError before, and for a group the service lacks)
    consumer: Callable[[str], BatchConsumer]


@dataclass
class ServiceRuntime(Generic[SettingsT, PartsT]):
    """What a running service holds; routes reach it through their service's ``RuntimeDep``."""

    settings: SettingsT
    pool: asyncpg.Pool
    producer: EventProducer
    relay: OutboxRelay
    parts: PartsT
    #: the service's "now" (a manual clock in tests and simulations)
    clock: Clock = field(default_factory=SystemClock)
    consumers: list[BatchConsumer] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    #: workers whose ``run`` ended on an error, by name (readiness reports them)
    worker_failures: dict[str, BaseException] = field(default_factory=dict)

    @property
    def transactions(self) -> Transactions:
        """Units of work on this service's pool and clock."""
        return Transactions(self.pool, self.clock)

    def consumer(self, group_id: str) -> BatchConsumer:
        """The consumer of ``group_id`` (KeyError when the service runs none)."""
        for consumer in self.consumers:
            if consumer.group_id == group_id:
                return consumer
        raise KeyError(group_id)

    def event_consumer(self, handlers: EventHandlers, *, group_id: str, topic: str | None = None) -> BatchConsumer:
        """A consumer that runs ``handlers`` (on ``topic``, by default the contract topic they declare)."""
        settings: ServiceSettings = self.settings
        return BatchConsumer(
            service=handlers.service,
            group_id=group_id,
            topics=[topic or handlers.topic],
            handler=handlers.batch_handler(self.transactions),
            dead_letters=self.producer,
            **settings.consumer_options(),
        )


@dataclass
class ServiceSpec(Generic[SettingsT, PartsT]):
    """A service's composition root."""

    name: str
    settings_cls: type[SettingsT]
    migrations: Path | None
    #: builds the service's own parts once pool and producer exist
    compose: Callable[[Foundation[SettingsT]], Awaitable[PartsT]]
    routers: Sequence[APIRouter] = ()
    #: builds the service's consumers once its parts exist
    consumers: Callable[[ServiceRuntime[SettingsT, PartsT]], list[BatchConsumer]] | None = None
    #: background workers (timers, sweeps, hubs), built once the consumers exist; see :mod:`rapport_common.workers`
    workers: Callable[[ServiceRuntime[SettingsT, PartsT]], list[Worker]] | None = None
    #: releases what ``compose`` built, after consumers and workers have stopped
    close: Callable[[PartsT], Awaitable[None]] | None = None
    customise: Callable[[FastAPI], None] | None = None
    description: str = ""


async def no_parts(_: Foundation[Any]) -> None:
    """``compose`` of a service that builds nothing of its own."""
    return None


async def _retry(what: str, attempt: Callable[[], Awaitable[Any]], *, timeout_s: float = 60.0) -> Any:
    """Retry start-up steps while a dependency (database, broker) is still coming up."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    delay = 0.2
    while True:
        try:
            return await attempt()
        except StartRefused:
            raise
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"{what} not reachable after {timeout_s:.0f}s: {exc}") from exc
            log.warning(f"waiting for {what}", extra={"reason": type(exc).__name__})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def migrate(spec: ServiceSpec[Any, Any], settings: ServiceSettings) -> list[str]:
    """Apply the common and the service's migrations to the service's database."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(settings.database_url)

    conn = await _retry("database", connect)
    try:
        return await apply_migrations(conn, spec.name, spec.migrations)
    finally:
        await conn.close()


def create_app(
    spec: ServiceSpec[SettingsT, PartsT], settings: SettingsT | None = None, *, clock: Clock | None = None
) -> FastAPI:
    settings = settings or load_settings(spec.settings_cls)
    configure_logging(spec.name, settings.log_level)
    setup_tracing(spec.name, settings.otel_exporter_otlp_endpoint)
    app = FastAPI(
        title=f"Rapport {spec.name}",
        description=spec.description,
        lifespan=_lifespan(spec, settings, clock or SystemClock()),
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(
        secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        jwks_url=settings.jwt_jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    install_http_conventions(app, spec.name)
    install_refusals(app)
    _install_health(app)
    for router in spec.routers:
        app.include_router(router)
    if spec.customise is not None:
        spec.customise(app)
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", server_request_hook=redact_url_attributes
    )
    return app


def _lifespan(
    spec: ServiceSpec[SettingsT, PartsT], settings: SettingsT, clock: Clock
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await _open_runtime(spec, settings, clock)
        app.state.runtime = runtime
        tasks: list[asyncio.Task[None]] = []
        try:
            await _start(spec, runtime, tasks)
            # everything allocated so far (modules, routes, models, pools) lives as long as the process: move it
            # out of the collector's generations so full collections stop rescanning it (they showed up as
            # tens-of-ms tail latencies on the consent check benchmark)
            gc.collect()
            gc.freeze()
            log.info("service started")
            yield
        finally:
            await _stop(spec, runtime, tasks)
            log.info("service stopped")

    return lifespan


async def _open_runtime(
    spec: ServiceSpec[SettingsT, PartsT], settings: SettingsT, clock: Clock
) -> ServiceRuntime[SettingsT, PartsT]:
    """Migrations, pool, producer, relay and the service's own parts (released again if composing fails)."""
    await migrate(spec, settings)
    pool = await _retry(
        "database",
        lambda: create_pool(
            settings.database_url, min_size=settings.database_pool_min, max_size=settings.database_pool_max
        ),
    )
    producer = EventProducer(
        settings.kafka_connection(),
        enable_idempotence=settings.kafka_enable_idempotence,
        client_id=f"rapport-{spec.name}",
    )
    await _retry("kafka", producer.start)
    relay = OutboxRelay(
        pool,
        producer,
        service=spec.name,
        batch_size=settings.outbox_batch_size,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    built: list[ServiceRuntime[SettingsT, PartsT]] = []  # the runtime, once it exists (consumers come later)

    def consumer_of(group_id: str) -> BatchConsumer:
        if not built:
            raise KeyError(group_id)
        return built[0].consumer(group_id)

    try:
        parts = await spec.compose(Foundation(settings, pool, producer, clock, consumer_of))
    except BaseException:
        await producer.stop()
        await pool.close()
        raise
    built.append(ServiceRuntime(settings=settings, pool=pool, producer=producer, relay=relay, parts=parts, clock=clock))
    return built[0]


async def _start(
    spec: ServiceSpec[SettingsT, PartsT], runtime: ServiceRuntime[SettingsT, PartsT], tasks: list[asyncio.Task[None]]
) -> None:
    """The relay, then the consumers, then the workers (each started before it runs)."""
    tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
    runtime.consumers = spec.consumers(runtime) if spec.consumers else []
    for consumer in runtime.consumers:
        await _retry("kafka consumer group", consumer.start)
        tasks.append(asyncio.create_task(consumer.run(), name=f"consumer-{consumer.group_id}"))
    runtime.workers = spec.workers(runtime) if spec.workers else []
    for worker in runtime.workers:
        await _retry(worker.name, worker.start)
        tasks.append(asyncio.create_task(_supervise(runtime, worker), name=f"worker-{worker.name}"))


async def _stop(
    spec: ServiceSpec[SettingsT, PartsT], runtime: ServiceRuntime[SettingsT, PartsT], tasks: list[asyncio.Task[None]]
) -> None:
    """Tell everything to stop, give the rounds in hand 10 s, then close in reverse order of starting."""
    for consumer in runtime.consumers:
        consumer.stop()
    for worker in runtime.workers:
        worker.stop()
    runtime.relay.stop()
    _, pending = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*pending, return_exceptions=True)
    for consumer in runtime.consumers:
        await consumer.close()
    for worker in runtime.workers:
        await worker.close()
    if spec.close is not None:
        await spec.close(runtime.parts)
    await runtime.producer.stop()
    await runtime.pool.close()


async def _supervise(runtime: ServiceRuntime[Any, Any], worker: Worker) -> None:
    """Run a worker; an error that ends it is logged and kept for readiness."""
    try:
        await worker.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        runtime.worker_failures[worker.name] = exc
        log.exception(f"worker {worker.name} stopped on an error")


def current_runtime(request: Request) -> ServiceRuntime[Any, Any]:
    """The running service's runtime; each service's ``api/deps.py`` gives it its precise type."""
    runtime: ServiceRuntime[Any, Any] = request.app.state.runtime
    return runtime


# dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, per request


async def runtime_dependency(request: Request) -> Any:
    """The runtime, for a service's ``RuntimeDep = Annotated[<its runtime type>, Depends(runtime_dependency)]``."""
    return current_runtime(request)


async def settings_dependency(request: Request) -> Any:
    """The settings, for a service's ``SettingsDep = Annotated[<its settings>, Depends(settings_dependency)]``."""
    return current_runtime(request).settings


async def _clock(request: Request) -> Clock:
    return current_runtime(request).clock


async def _transactions(request: Request) -> Transactions:
    return current_runtime(request).transactions


async def _pool(request: Request) -> asyncpg.Pool:
    return current_runtime(request).pool


#: the running service's clock, for routes that only read (``now = clock.now()``)
ClockDep = Annotated[Clock, Depends(_clock)]
#: units of work for the routes' use cases
TransactionsDep = Annotated[Transactions, Depends(_transactions)]
#: the pool, for read-only queries
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
#: a command's idempotency key (see :class:`rapport_common.application.unit_of_work.Transactions.command`)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retried POST with the same key and body gets the first response, with no second effect",
    ),
]


def _install_health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves HTTP."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Readiness: the database and the broker both answer."""
        runtime: ServiceRuntime[Any, Any] | None = getattr(app.state, "runtime", None)
        checks = {"database": False, "kafka": False, "consumers": False, "workers": False}
        if runtime is not None:
            with contextlib.suppress(*TRANSIENT_DB_ERRORS, Exception):
                async with asyncio.timeout(2):
                    checks["database"] = await runtime.pool.fetchval("SELECT 1") == 1
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    checks["kafka"] = await runtime.producer.broker_reachable()
            checks["consumers"] = all(c.failure is None for c in runtime.consumers)
            checks["workers"] = not runtime.worker_failures
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def main(spec: ServiceSpec[Any, Any], argv: Sequence[str] | None = None) -> None:
    """``python -m rapport_<svc> [serve|migrate]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "serve"
    settings = load_settings(spec.settings_cls)
    if command == "migrate":
        configure_logging(spec.name, settings.log_level)
        applied = asyncio.run(migrate(spec, settings))
        print(f"{spec.name}: {len(applied)} migration(s) applied")
    elif command == "serve":
        app = create_app(spec, settings)
        # open SSE streams must not hold a shutdown: uvicorn cancels them after this grace period
        uvicorn.run(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    else:
        print(f"usage: python -m rapport_{spec.name.replace('-', '_')} [serve|migrate]", file=sys.stderr)
        raise SystemExit(2)
