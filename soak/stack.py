"""The real stack as separate processes, with handles for faults: PostgreSQL and the broker from
``rapport_local`` (embedded), and each service as ``python -m rapport_<svc>`` that can be SIGKILLed and
started again, plus a second alliance-monitor instance in the same consumer group.

Why not ``python -m rapport_local run``: the launcher stops the whole suite when any child dies (its
documented behaviour), which is right for a demo and wrong for a fault test that kills one service and
expects the rest to carry on. The building blocks (``EmbeddedPostgres``, the broker: Tansu's
``EmbeddedBroker`` or Apache Kafka's ``KafkaCluster`` with 1 or 3 nodes, ``ensure_contract_topics``) and the
service environment are the launcher's own.

Spawn from the main thread (the parent-death signal belongs to the thread that forked; see
``rapport_local.process``), so children never outlive a crashed test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rapport_local.broker import EmbeddedBroker
from rapport_local.kafka import KafkaCluster
from rapport_local.postgres import EmbeddedPostgres, ensure_database
from rapport_local.process import child_kwargs, free_port
from rapport_local.topics import ensure_contract_topics

SERVICES = ("intake", "session", "consent", "alliance-monitor")


def module_of(service: str) -> str:
    return "rapport_" + service.replace("-", "_")


def database_of(service: str) -> str:
    return "rapport_" + service.replace("-", "_")


@dataclass
class ServiceProcess:
    name: str  # "alliance-monitor-2" for the second monitor instance
    service: str  # "alliance-monitor"
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    """Start with :meth:`start`, stop with :meth:`stop` (or ``async with``)."""

    monitors: int = 1
    partitions: int = 6
    extra_env: dict[str, str] = field(default_factory=dict)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rapport-reliability-")))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    keep: bool = False
    #: ``kafka`` (Apache Kafka from its jars) or ``tansu``
    broker_kind: str = "kafka"
    #: Apache Kafka nodes: 1, or 3 (replication 3, ``min.insync.replicas=2``)
    kafka_nodes: int = 1

    def __post_init__(self) -> None:
        os.chmod(self.root, 0o755)  # PostgreSQL runs as another user under root
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.postgres = EmbeddedPostgres(self.root / "pg", log_path=self.logs / "postgres.log")
        self.broker: EmbeddedBroker | KafkaCluster
        if self.broker_kind == "kafka":
            self.broker = KafkaCluster(data_dir=self.root, nodes=self.kafka_nodes, logs_dir=self.logs)
        else:
            self.broker = EmbeddedBroker(log_path=self.logs / "broker.log")
        self.services: dict[str, ServiceProcess] = {}
        names = [*SERVICES] + [f"alliance-monitor-{i}" for i in range(2, self.monitors + 1)]
        for name in names:
            service = "alliance-monitor" if name.startswith("alliance-monitor") else name
            self.services[name] = ServiceProcess(name, service, free_port(), self.logs / f"{name}.log")

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.postgres.start()
        await self.broker.start()
        await ensure_contract_topics(
            self.kafka,
            partitions=self.partitions,
            replication_factor=self.broker.replication_factor,
            configs=self.broker.topic_configs(),
        )
        for service in SERVICES:
            await ensure_database(self.postgres.url(), database_of(service))
        for name in ("consent", "intake", "session"):
            self.spawn(name)
        await asyncio.gather(*(self.wait_ready(name) for name in ("consent", "intake", "session")))
        # the monitor applies its migrations at start: one instance first, then the others
        monitors = [name for name in self.services if name.startswith("alliance-monitor")]
        self.spawn(monitors[0])
        await self.wait_ready(monitors[0])
        for name in monitors[1:]:
            self.spawn(name)
        await asyncio.gather(*(self.wait_ready(name) for name in monitors[1:]))

    def stop(self) -> None:
        for proc in self.services.values():
            self._terminate(proc)
        self.broker.stop()
        self.postgres.stop()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    async def __aenter__(self) -> Stack:
        try:
            await self.start()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------------------

    @property
    def kafka(self) -> str:
        return self.broker.bootstrap_servers

    def database_url(self, service: str) -> str:
        return self.postgres.url(database_of(service))

    @property
    def urls(self) -> dict[str, str]:
        """One URL per service (the first monitor instance for the monitor)."""
        return {name: proc.url for name, proc in self.services.items() if name in SERVICES}

    # -- services -------------------------------------------------------------------------------------

    def env(self, proc: ServiceProcess) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url(proc.service),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.broker.idempotence).lower(),
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(proc.port),
            "JWT_SECRET": self.secret,
            "LOG_LEVEL": "INFO",
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            "CONSENT_SERVICE_URL": self.services["consent"].url,
            "CONSENT_TIMEOUT_S": "2.0",
            **self.extra_env,
        }

    def spawn(self, name: str) -> None:
        proc = self.services[name]
        with open(proc.log_path, "ab") as log:
            proc.process = subprocess.Popen(
                [sys.executable, "-m", module_of(proc.service)],
                env=self.env(proc),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **child_kwargs(signal.SIGTERM),
            )
        proc.starts += 1

    async def wait_ready(self, name: str, timeout_s: float = 120.0) -> float:
        """Seconds until ``GET /readyz`` answers 200."""
        proc = self.services[name]
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if proc.process is not None and proc.process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.process.returncode}; see {proc.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(proc.url + "/readyz")).status_code == 200:
                        return time.monotonic() - started
                if time.monotonic() - started > timeout_s:
                    raise TimeoutError(f"{name} not ready after {timeout_s}s; see {proc.log_path}")
                await asyncio.sleep(0.1)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.services[name]
        assert proc.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.process.pid, sig)
        proc.process.wait(10)

    async def restart(self, name: str) -> float:
        """Start a killed service again; seconds until it is ready."""
        self.spawn(name)
        return await self.wait_ready(name)

    def _terminate(self, proc: ServiceProcess) -> None:
        if proc.process is None or proc.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.process.pid, signal.SIGTERM)
        try:
            proc.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.process.pid, signal.SIGKILL)
            proc.process.wait(5)

    # -- infrastructure faults ------------------------------------------------------------------------

    def pause_broker(self) -> None:
        """SIGSTOP the broker (node 1 of a cluster)."""
        assert self.broker.pid is not None
        os.kill(self.broker.pid, signal.SIGSTOP)

    def resume_broker(self) -> None:
        assert self.broker.pid is not None
        os.kill(self.broker.pid, signal.SIGCONT)

    @property
    def cluster(self) -> KafkaCluster:
        """The Apache Kafka cluster (node faults: kill, stop, restart, pause)."""
        assert isinstance(self.broker, KafkaCluster), "node faults need --broker kafka"
        return self.broker

    def restart_postgres(self) -> None:
        """Fast shutdown (open transactions roll back, clients are disconnected), then start on the same port."""
        self.postgres.stop()
        self.postgres.start()

    def log_text(self, name: str) -> str:
        return self.services[name].log_path.read_text(errors="replace")

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each service process, in MB."""
        import psutil

        sizes = {}
        for name, proc in self.services.items():
            if proc.process is not None and proc.process.poll() is None:
                with contextlib.suppress(psutil.Error):
                    sizes[name] = psutil.Process(proc.process.pid).memory_info().rss / 1e6
        return sizes
