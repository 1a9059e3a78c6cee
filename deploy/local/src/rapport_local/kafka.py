"""Apache Kafka itself, without Docker: 1 or 3 KRaft nodes (combined broker + controller) from the jars of
:mod:`rapport_local.kafka_jars`, each a ``java kafka.Kafka server.properties`` process on 127.0.0.1.

The way Spring Kafka's ``EmbeddedKafkaKraftBroker`` and Kafka's ``KafkaClusterTestKit`` bring the real broker
into tests, but as separate processes, so a node can be SIGKILLed, SIGSTOPped and restarted from its on-disk
log like a real deployment. Layout under the data directory::

    kafka/cluster.id            the KRaft cluster id (reused: a restart keeps the data)
    kafka/node-<n>/server.properties, log4j2.xml
    kafka/node-<n>/data/        the node's log directory (topic partitions and the metadata log)
    logs/kafka-<n>.log          the node's own log

With 3 nodes every topic is created with replication factor 3 and ``min.insync.replicas=2`` (the broker
defaults say the same for the internal topics), so one node may fail without losing an acknowledged write
(producers use ``acks=all``). With ``security`` the client listener speaks SASL_SSL (SCRAM-SHA-512, one
principal per service, ACLs enforced by KRaft's ``StandardAuthorizer``); nodes talk to each other over mTLS
(SCRAM cannot authenticate controllers: its credentials live in the metadata log they serve).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rapport_common.kafka.connection import KafkaConnection
from rapport_local.broker import BrokerError
from rapport_local.kafka_jars import KafkaDistribution, resolve
from rapport_local.kafka_security import BrokerSecurity
from rapport_local.process import child_kwargs, free_port, port_in_use, tail

log = logging.getLogger(__name__)

KIND = "apache-kafka"

_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
    <Logger name="kafka.server.BrokerServer" level="INFO"/>
    <Logger name="org.apache.kafka.controller.QuorumController" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.authorizer.logger" level="WARN"/>
    <Root level="WARN"><AppenderRef ref="out"/></Root>
  </Loggers>
</Configuration>
"""


@dataclass
class KafkaNode:
    """One KRaft node: its id, ports, directories and (while it runs) its process."""

    node_id: int
    port: int
    controller_port: int
    internal_port: int
    home: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def properties_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class KafkaCluster:
    """``nodes`` Apache Kafka KRaft nodes on ``host``; ``port`` is node 1's client port (0 = a free one).

    Spawn from the main thread (children get a parent-death signal, see :mod:`rapport_local.process`).
    """

    data_dir: Path
    nodes: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    logs_dir: Path | None = None
    heap_mb: int | None = None
    security: BrokerSecurity | None = None
    distribution: KafkaDistribution | None = None
    members: list[KafkaNode] = field(default_factory=list)
    #: seconds from the first ``java`` spawn to every node answering (set by :meth:`wait_ready`)
    start_seconds: float | None = None
    format_seconds: float | None = None
    _spawned_at: float = 0.0

    def __post_init__(self) -> None:
        if self.nodes not in (1, 3):
            raise ValueError("kafka nodes must be 1 or 3")
        self.data_dir = Path(self.data_dir).absolute() / "kafka"
        self.logs_dir = Path(self.logs_dir).absolute() if self.logs_dir else self.data_dir / "logs"

    # -- what clients need -------------------------------------------------------------------------

    kind = KIND

    @property
    def version(self) -> str:
        return self._distribution().version

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{self.host}:{node.port}" for node in self.members)

    @property
    def idempotence(self) -> bool:
        return True  # Apache Kafka grants producer ids

    @property
    def replication_factor(self) -> int:
        return self.nodes

    @property
    def min_insync_replicas(self) -> int:
        return 2 if self.nodes >= 3 else 1

    @property
    def pid(self) -> int | None:
        return self.members[0].pid if self.members else None

    def pids(self) -> dict[str, int]:
        """``broker`` for node 1, ``broker-<n>`` for the others (the run file's process names)."""
        return {_process_name(node.node_id): node.pid for node in self.members if node.pid is not None}

    def admin_connection(self) -> KafkaConnection:
        """A connection with every right (the super user on a secured cluster)."""
        if self.security is None:
            return KafkaConnection(bootstrap_servers=self.bootstrap_servers)
        return self.security.connection(self.bootstrap_servers, self.security.admin_user)

    def service_connection(self, service: str) -> KafkaConnection:
        """The service's own principal on a secured cluster (its ACLs), else the open listener."""
        if self.security is None:
            return self.admin_connection()
        return self.security.connection(self.bootstrap_servers, service)

    def topic_configs(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync_replicas)}

    # -- life cycle ---------------------------------------------------------------------------------

    def spawn(self) -> None:
        """Fetch the jars if needed, write each node's configuration, format new storage, start every node."""
        distribution = self._distribution()
        if not self.members:
            self.members = self._plan_nodes()
        for node in self.members:
            if port_in_use(self.host, node.port):
                raise BrokerError(f"port {self.host}:{node.port} is already in use; choose another Kafka port")
        if self.security is not None:
            self.security.prepare()
        for node in self.members:
            node.home.mkdir(parents=True, exist_ok=True)
            (node.home / "log4j2.xml").write_text(_LOG4J2)
            node.properties_path.write_text(self._server_properties(node))
        started = time.monotonic()
        self._format([node for node in self.members if not (node.data_dir / "meta.properties").exists()])
        self.format_seconds = time.monotonic() - started
        self._spawned_at = time.monotonic()
        for node in self.members:
            self._spawn_node(node, distribution)
        log.info("apache kafka %s: %d node(s) spawned on %s", distribution.version, self.nodes, self.bootstrap_servers)

    async def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Wait until every node answers a metadata request and the cluster shows all of them; then, on a
        secured cluster, create the services' ACLs."""
        deadline = time.monotonic() + timeout_s
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            for node in self.members:
                if node.process is not None and node.process.poll() is not None:
                    raise BrokerError(
                        f"kafka node {node.node_id} exited with code {node.process.returncode} during start; "
                        f"log {node.log_path}:\n{tail(node.log_path)}"
                    )
            if not all(port_in_use(self.host, node.port) for node in self.members):
                await asyncio.sleep(0.1)
                continue
            try:
                if await self.live_brokers(timeout_s=min(5.0, max(0.5, deadline - time.monotonic()))) >= self.nodes:
                    self.start_seconds = time.monotonic() - self._spawned_at
                    if self.security is not None:
                        await self.security.apply_acls(self.admin_connection())
                    return
            except Exception as exc:
                last_error = exc
            await asyncio.sleep(0.1)
        hint = "\n".join(f"log {n.log_path}:\n{tail(n.log_path, 15)}" for n in self.members)
        self.stop()
        raise BrokerError(f"kafka not ready after {timeout_s:.0f}s (last error: {last_error!r})\n{hint}")

    async def live_brokers(self, *, timeout_s: float = 5.0) -> int:
        """How many brokers the cluster's metadata lists right now (asked of any live node)."""
        from aiokafka.client import AIOKafkaClient

        client = AIOKafkaClient(**self.admin_connection().aiokafka_options(), request_timeout_ms=int(timeout_s * 1000))
        try:
            await asyncio.wait_for(client.bootstrap(), timeout_s)
            return len(client.cluster.brokers())
        finally:
            with contextlib.suppress(Exception):
                await client.close()

    async def start(self, timeout_s: float = 90.0) -> None:
        self.spawn()
        await self.wait_ready(timeout_s)

    def start_blocking(self, timeout_s: float = 90.0) -> None:
        """:meth:`start` for callers without a running event loop (uses a private loop)."""
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.start(timeout_s))
        finally:
            loop.close()

    def stop(self, *, timeout_s: float = 15.0) -> None:
        """SIGTERM every node at once (a controlled shutdown flushes the logs), SIGKILL after ``timeout_s``."""
        live = [node for node in self.members if node.process is not None]
        for node in live:
            self.resume_node(node.node_id)
            with contextlib.suppress(ProcessLookupError):
                node.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout_s
        for node in live:
            assert node.process is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(max(0.1, deadline - time.monotonic()))
            if node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    node.process.kill()
                node.process.wait(10)
            node.process = None

    def running(self) -> bool:
        return bool(self.members) and all(node.running() for node in self.members)

    # -- faults (tests) ---------------------------------------------------------------------------------

    def node(self, node_id: int) -> KafkaNode:
        return self.members[node_id - 1]

    def kill_node(self, node_id: int) -> None:
        """SIGKILL: no controlled shutdown, no flush; what is on disk is all the node has on restart."""
        node = self.node(node_id)
        if node.process is not None:
            with contextlib.suppress(ProcessLookupError):
                node.process.kill()
            node.process.wait(10)
            node.process = None
            node.paused = False

    def stop_node(self, node_id: int, *, timeout_s: float = 30.0) -> None:
        """SIGTERM and wait: a controlled shutdown (leadership moves away first)."""
        node = self.node(node_id)
        if node.process is not None:
            node.process.terminate()
            try:
                node.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(10)
            node.process = None

    def restart_node(self, node_id: int) -> None:
        """Start a stopped or killed node again from its on-disk log."""
        node = self.node(node_id)
        if node.running():
            raise BrokerError(f"kafka node {node_id} is still running")
        self._spawn_node(node, self._distribution())

    def pause_node(self, node_id: int) -> None:
        node = self.node(node_id)
        if node.process is not None and not node.paused:
            os.kill(node.process.pid, signal.SIGSTOP)
            node.paused = True

    def resume_node(self, node_id: int) -> None:
        node = self.node(node_id)
        if node.process is not None and node.paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.process.pid, signal.SIGCONT)
            node.paused = False

    # -- internals ---------------------------------------------------------------------------------------

    def _distribution(self) -> KafkaDistribution:
        if self.distribution is None:
            self.distribution = resolve()
        return self.distribution

    def _plan_nodes(self) -> list[KafkaNode]:
        taken: set[int] = set()

        def pick(preferred: int = 0) -> int:
            port = preferred
            while port == 0 or port in taken:
                port = free_port(self.host)
            taken.add(port)
            return port

        assert self.logs_dir is not None
        return [
            KafkaNode(
                node_id=n,
                port=pick(self.port if n == 1 else 0),
                controller_port=pick(),
                internal_port=pick(),
                home=self.data_dir / f"node-{n}",
                log_path=self.logs_dir / f"kafka-{n}.log",
            )
            for n in range(1, self.nodes + 1)
        ]

    def _cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def _server_properties(self, node: KafkaNode) -> str:
        n = self.nodes
        voters = ",".join(f"{m.node_id}@{self.host}:{m.controller_port}" for m in self.members)
        client = "SASL_SSL" if self.security else "PLAINTEXT"
        internal = "SSL" if self.security else "PLAINTEXT"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": (
                f"CLIENT://{self.host}:{node.port},INTERNAL://{self.host}:{node.internal_port},"
                f"CONTROLLER://{self.host}:{node.controller_port}"
            ),
            "advertised.listeners": f"CLIENT://{self.host}:{node.port},INTERNAL://{self.host}:{node.internal_port}",
            "listener.security.protocol.map": f"CLIENT:{client},INTERNAL:{internal},CONTROLLER:{internal}",
            "inter.broker.listener.name": "INTERNAL",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(node.data_dir),
            "num.partitions": "6",
            "default.replication.factor": str(n),
            "min.insync.replicas": str(self.min_insync_replicas),
            "offsets.topic.replication.factor": str(n),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(n),
            "transaction.state.log.min.isr": str(self.min_insync_replicas),
            "group.initial.rebalance.delay.ms": "0",
            "unclean.leader.election.enable": "false",
            # a node SIGKILLed and restarted recovers its segments from disk; keep that quick in tests
            "log.segment.bytes": str(64 * 1024 * 1024),
            "num.recovery.threads.per.data.dir": "2",
            "controlled.shutdown.enable": "true",
        }
        if self.security is not None:
            props |= self.security.server_properties()
        return "".join(f"{key}={value}\n" for key, value in props.items())

    def _java_argv(self, node: KafkaNode, distribution: KafkaDistribution, main: str, *args: str) -> list[str]:
        heap = self.heap_mb or (512 if self.nodes == 1 else 384)
        return [
            distribution.java,
            f"-Xmx{heap}m",
            f"-Xms{min(heap, 256)}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={node.home / 'log4j2.xml'}",
            "-cp",
            distribution.classpath,
            main,
            *args,
        ]

    def _format(self, nodes: list[KafkaNode]) -> None:
        """``kafka.tools.StorageTool format`` for new nodes, in parallel (each is a JVM start)."""
        if not nodes:
            return
        distribution = self._distribution()
        cluster_id = self._cluster_id()
        extra = self.security.format_arguments() if self.security is not None else []
        jobs = []
        for node in nodes:
            argv = self._java_argv(
                node, distribution, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                "-c", str(node.properties_path), "--ignore-formatted", *extra,
            )  # fmt: skip
            jobs.append((node, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        for node, job in jobs:
            out, _ = job.communicate(timeout=120)
            if job.returncode != 0:
                raise BrokerError(f"kafka storage format of node {node.node_id} failed: {out.decode()[-2000:]}")

    def _spawn_node(self, node: KafkaNode, distribution: KafkaDistribution) -> None:
        node.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = self._java_argv(node, distribution, "kafka.Kafka", str(node.properties_path))
        with open(node.log_path, "ab") as log_file:
            node.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=node.home,
                **child_kwargs(signal.SIGTERM),  # the launcher's death shuts the node down cleanly
            )
        node.paused = False


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, never starting with ``-`` (the storage tool
    would take it for an option; Kafka's own ``Uuid.randomUuid`` skips those too)."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def _process_name(node_id: int) -> str:
    return "broker" if node_id == 1 else f"broker-{node_id}"
