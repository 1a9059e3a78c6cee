"""The embedded suite on one machine: PostgreSQL, the Tansu broker, topics, migrations, the four services.

Order of start: PostgreSQL -> one database per service -> broker -> topics -> migrations (``python -m
rapport_<svc> migrate``) -> services (``python -m rapport_<svc>``) -> every ``GET /readyz`` answers 200 ->
``run.json`` says ready. Order of stop (Ctrl-C, SIGTERM, ``--duration`` elapsed, or a child died):
services (SIGTERM to their process group, SIGKILL after ``stop_timeout``) -> broker -> PostgreSQL (fast
shutdown) -> ``run.json`` removed -> psutil confirms no child is left. Children live in their own process
groups with a parent-death signal, so even a ``kill -9`` of the launcher leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import psutil

from rapport_local.broker import BrokerError, EmbeddedBroker
from rapport_local.kafka import KafkaCluster
from rapport_local.kafka_jars import KafkaSetupError
from rapport_local.kafka_security import SERVICE_GRANTS, BrokerSecurity
from rapport_local.postgres import EmbeddedPostgres, PostgresError
from rapport_local.process import (
    alive,
    child_kwargs,
    find_process,
    port_in_use,
    process_identity,
    signal_group,
    tail,
    terminate_tree,
)
from rapport_local.runfile import jwt_secret, launcher_alive, read_run_file, run_file, write_run_file
from rapport_local.topics import TopicError, ensure_contract_topics


@dataclass(frozen=True)
class ServiceDef:
    """How the launcher runs one service: the single place to add a service (e.g. one without a database)."""

    name: str
    #: the variable through which its base URL reaches the other services
    url_env: str
    #: its HTTP port is ``base_port + port_offset``
    port_offset: int
    #: gets its own database (``rapport_<name>``), ``DATABASE_URL`` and a ``migrate`` step before serving
    database: bool = True
    #: extra environment variables
    env: tuple[tuple[str, str], ...] = ()


CATALOG: dict[str, ServiceDef] = {
    d.name: d
    for d in (
        ServiceDef("intake", "INTAKE_SERVICE_URL", 0),
        ServiceDef("session", "SESSION_SERVICE_URL", 1),
        ServiceDef("consent", "CONSENT_SERVICE_URL", 2),
        ServiceDef("alliance-monitor", "ALLIANCE_MONITOR_URL", 3),
        # the web consoles: pages + a same-origin proxy to the services; no database; demo sign-in on
        ServiceDef("console", "CONSOLE_URL", 4, database=False, env=(("CONSOLE_DEMO_LOGIN", "true"),)),
    )
}
#: the services the simulator drives; it starts only when all of them run
SIMULATED = ("intake", "session", "consent", "alliance-monitor")
#: what ``run`` starts by default, in the order of their HTTP ports
SERVICES: tuple[str, ...] = tuple(CATALOG)
PREFIX_WIDTH = max(len(name) for name in (*CATALOG, "rapport"))
_COLOURS = {
    "intake": "36",
    "session": "35",
    "consent": "33",
    "alliance-monitor": "32",
    "console": "34",
    "simulator": "90",
    "rapport": "1",
}


BROKERS = ("tansu", "kafka")
Broker = EmbeddedBroker | KafkaCluster


def make_broker(config: LaunchConfig, logs_dir: Path) -> Broker:
    """The broker ``config`` asks for; Apache Kafka keeps its data under ``<data_dir>/kafka``."""
    if config.broker == "kafka":
        security = BrokerSecurity(config.data_dir / "kafka" / "tls") if config.kafka_security else None
        return KafkaCluster(
            data_dir=config.data_dir,
            nodes=config.kafka_nodes,
            host=config.host,
            port=config.kafka_port,
            logs_dir=logs_dir,
            security=security,
        )
    return EmbeddedBroker(port=config.kafka_port, host=config.host, log_path=logs_dir / "broker.log")


class LaunchError(RuntimeError):
    """The suite could not start; the message says what and shows the relevant log lines."""


def module_of(service: str) -> str:
    return "rapport_" + service.replace("-", "_")


def database_of(service: str) -> str:
    return "rapport_" + service.replace("-", "_")


@dataclass
class LaunchConfig:
    """Everything the launcher can be told; see ``python -m rapport_local run --help`` for the flags."""

    data_dir: Path
    pg_port: int = 0
    kafka_port: int = 0
    base_port: int = 8100
    host: str = "127.0.0.1"
    services: tuple[str, ...] = SERVICES
    duration: float | None = None
    log_level: str = "INFO"
    ready_timeout: float = 90.0
    stop_timeout: float = 10.0
    partitions: int = 6
    colour: bool = False
    #: arguments for ``python -m rapport_simulator`` (after ``--run-json``); None = no simulator
    simulator_args: tuple[str, ...] | None = None
    #: ``tansu`` (memory-only, no JDK needed) or ``kafka`` (Apache Kafka from its jars, logs on disk)
    broker: str = "tansu"
    #: Apache Kafka only: 1 node, or 3 (replication 3, ``min.insync.replicas=2``)
    kafka_nodes: int = 1
    #: Apache Kafka only: SASL_SSL with one SCRAM principal per service and ACLs
    kafka_security: bool = False

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        if self.broker not in BROKERS:
            raise ValueError(f"unknown broker {self.broker!r}; choose from {', '.join(BROKERS)}")
        if self.kafka_nodes not in (1, 3):
            raise ValueError("--kafka-nodes must be 1 or 3")
        if self.broker == "tansu" and (self.kafka_nodes != 1 or self.kafka_security):
            raise ValueError("--kafka-nodes and --kafka-security need --broker kafka (Tansu is one open node)")
        unknown = [name for name in self.services if name not in CATALOG]
        if unknown:
            raise ValueError(f"unknown services {unknown}; choose from {', '.join(CATALOG)}")

    def http_port(self, service: str) -> int:
        return self.base_port + CATALOG[service].port_offset

    def with_database(self) -> list[str]:
        """The selected services that own a database (and so have migrations)."""
        return [service for service in self.services if CATALOG[service].database]

    def base_url(self, service: str) -> str:
        return f"http://{self.host}:{self.http_port(service)}"


@dataclass
class _Child:
    """A service process, its last log lines (for error messages) and the task streaming its output."""

    name: str
    process: asyncio.subprocess.Process
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    reader: asyncio.Task[None] | None = None


class Printer:
    """Writes lines with a fixed-width, optionally coloured ``[name] `` prefix."""

    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out: TextIO | None = out
        self.colour = colour

    def line(self, name: str, text: str) -> None:
        """Print one line; when our stdout is gone (closed pipe, lost terminal) keep running silently."""
        if self.out is None:
            return
        prefix = f"[{name:<{PREFIX_WIDTH}}]"
        if self.colour:
            prefix = f"\x1b[{_COLOURS.get(name, '0')}m{prefix}\x1b[0m"
        try:
            self.out.write(f"{prefix} {text}\n")
            self.out.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.out = None  # the services' logs still go to logs/<svc>.log

    def say(self, text: str) -> None:
        self.line("rapport", text)


class Launcher:
    """Starts, supervises and stops the embedded suite; :meth:`run` returns the process exit code."""

    def __init__(self, config: LaunchConfig, out: TextIO | None = None) -> None:
        self.config = config
        self.print = Printer(out or sys.stdout, config.colour)
        self.postgres = EmbeddedPostgres(
            config.data_dir / "postgres",
            port=config.pg_port,
            host=config.host,
            log_path=self.logs_dir / "postgres.log",
        )
        self.broker: Broker = make_broker(config, self.logs_dir)
        self.children: dict[str, _Child] = {}
        #: processes that may end on their own without stopping the suite (the simulator)
        self.companions: dict[str, _Child] = {}
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self._stop_reason = ""
        self._run_content: dict[str, Any] = {}
        self._env: dict[str, str] = {}

    @property
    def logs_dir(self) -> Path:
        return self.config.data_dir / "logs"

    # -- top level --------------------------------------------------------------------------------

    async def run(self) -> int:
        """Start everything, wait for a stop (signal, duration, a child's death), stop everything."""
        self._install_signal_handlers()
        code = 0
        try:
            started = time.monotonic()
            if not await self._until_stopped(self._start()):
                self.print.say(f"stop requested during start-up ({self._stop_reason})")
            else:
                self._announce(time.monotonic() - started)
                code = await self._supervise()
        except (LaunchError, PostgresError, BrokerError, TopicError, KafkaSetupError) as exc:
            self.print.say(f"ERROR: {exc}")
            code = 1
        finally:
            await self._shutdown()
        return code

    async def _until_stopped(self, work: Any) -> bool:
        """Run ``work`` unless a stop is requested first (then cancel it); True when it completed."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            task.result()  # re-raise a LaunchError
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return False

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        if self._stop.is_set():
            self._force.set()  # a second Ctrl-C: no more waiting for graceful exits
            self.print.say("second signal: killing the services now")
        else:
            self._stop_reason = signal.Signals(sig).name
            self._stop.set()

    # -- start ------------------------------------------------------------------------------------

    async def _start(self) -> None:
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._check_previous_run()
        self._check_services_runnable()

        step = time.monotonic()
        self.postgres.start(kill_stale=True)  # blocks about a second (initdb on first use: a second more)
        self.print.say(f"postgres ready on {cfg.host}:{self.postgres.port} in {time.monotonic() - step:.1f}s")
        self._write_run_file(ready=False)

        step = time.monotonic()
        self._forget_other_kafka_layout()
        self.broker.spawn()
        self._write_run_file(ready=False)
        await self.broker.wait_ready()
        self.print.say(
            f"broker {self.broker.kind} {self.broker.version} ({self.broker.nodes} node(s)) ready on "
            f"{self.broker.bootstrap_servers} in {time.monotonic() - step:.1f}s"
        )

        step = time.monotonic()
        databases = [database_of(service) for service in cfg.with_database()]
        for name in databases:
            await self.postgres.ensure_database(name)
        counts = await ensure_contract_topics(
            self.broker.admin_connection(),
            partitions=cfg.partitions,
            replication_factor=self.broker.replication_factor,
            configs=self.broker.topic_configs(),
        )
        self.print.say(
            f"{len(databases)} databases, {len(counts)} topics x {cfg.partitions} partitions "
            f"in {time.monotonic() - step:.1f}s"
        )

        self._env = self._service_env_base()
        if cfg.services:
            step = time.monotonic()
            await asyncio.gather(*(self._migrate(service) for service in cfg.with_database()))
            self.print.say(f"migrations applied in {time.monotonic() - step:.1f}s")
            step = time.monotonic()
            for service in cfg.services:
                await self._spawn_service(service)
            self._write_run_file(ready=False)
            await asyncio.gather(*(self._wait_ready(service) for service in cfg.services))
            self.print.say(f"services ready in {time.monotonic() - step:.1f}s")
        self._write_run_file(ready=True)
        await self._start_simulator()

    async def _start_simulator(self) -> None:
        """Drive the suite through its public APIs (demo activity for the consoles), when asked to and when
        every service it drives runs. Its end, or its failure, does not stop the suite."""
        args = self.config.simulator_args
        if args is None or not all(service in self.config.services for service in SIMULATED):
            return
        if importlib.util.find_spec("rapport_simulator.__main__") is None:
            self.print.say("simulator not installed; the suite runs without it")
            return
        path = str(run_file(self.config.data_dir))
        self.companions["simulator"] = await self._exec("simulator", "--run-json", path, *args, env=self._env)
        self._write_run_file(ready=True)
        self.print.say(f"simulator started: python -m rapport_simulator --run-json {path} {' '.join(args)}")

    def _check_previous_run(self) -> None:
        """Refuse to start twice on one data directory; clean up after a launcher that was killed."""
        previous = read_run_file(self.config.data_dir)
        if previous is None:
            return
        if launcher_alive(previous):
            raise LaunchError(
                f"a launcher (pid {previous.get('pid')}) is already running on {self.config.data_dir}; "
                f"stop it with: python -m rapport_local stop --data-dir {self.config.data_dir}"
            )
        leftovers = stop_processes(previous, timeout=self.config.stop_timeout)
        if leftovers:
            self.print.say(f"cleaned up {leftovers} processes of a stale run")
        run_file(self.config.data_dir).unlink(missing_ok=True)

    def _forget_other_kafka_layout(self) -> None:
        """Apache Kafka's data is kept between runs, unless this run asks for another cluster shape (node
        count, security): a node formatted for one quorum cannot join another, so that data is dropped."""
        cfg = self.config
        if cfg.broker != "kafka":
            return
        layout = {"nodes": cfg.kafka_nodes, "security": cfg.kafka_security}
        home = cfg.data_dir / "kafka"
        recorded = home / "layout.json"
        if home.exists() and (not recorded.exists() or json.loads(recorded.read_text()) != layout):
            self.print.say(f"kafka data in {home} was made for another cluster shape; starting it afresh")
            shutil.rmtree(home)
        home.mkdir(parents=True, exist_ok=True)
        recorded.write_text(json.dumps(layout) + "\n")

    def _check_services_runnable(self) -> None:
        for service in self.config.services:
            module = module_of(service)
            try:
                spec = importlib.util.find_spec(f"{module}.__main__")
            except ModuleNotFoundError:
                spec = None
            if spec is None:
                raise LaunchError(f"service {service}: no module {module}.__main__ (is the package installed?)")
            port = self.config.http_port(service)
            if port_in_use(self.config.host, port):
                raise LaunchError(
                    f"service {service}: port {self.config.host}:{port} is already in use; "
                    "choose another --base-port or stop what listens there"
                )

    def _service_env_base(self) -> dict[str, str]:
        cfg = self.config
        secret, _path = jwt_secret(cfg.data_dir)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            # on for Apache Kafka; off for Tansu, whose InitProducerId fails
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.broker.idempotence).lower(),
            "HTTP_HOST": cfg.host,
            "JWT_SECRET": secret,
            "LOG_LEVEL": cfg.log_level,
        }
        for service in CATALOG.values():
            env[service.url_env] = cfg.base_url(service.name)
        return env

    def _service_env(self, service: str) -> dict[str, str]:
        env = {**self._env, **dict(CATALOG[service].env), "HTTP_PORT": str(self.config.http_port(service))}
        if service in SERVICE_GRANTS:  # on a secured broker, the service's own principal
            env |= self.broker.service_connection(service).environment()
        if CATALOG[service].database:
            env["DATABASE_URL"] = self.postgres.url(database_of(service))
        return env

    async def _exec(self, service: str, *args: str, env: dict[str, str] | None = None) -> _Child:
        """Spawn ``python -m rapport_<svc> *args`` in its own group, streaming its output with a prefix."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module_of(service),
            *args,
            env=env if env is not None else self._service_env(service),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=1 << 20,
            **child_kwargs(signal.SIGTERM),
        )
        child = _Child(service, process)
        child.reader = asyncio.create_task(self._stream(child))
        return child

    async def _stream(self, child: _Child) -> None:
        """Copy a child's output to our stdout (prefixed) and to ``logs/<svc>.log``."""
        assert child.process.stdout is not None
        with open(self.logs_dir / f"{child.name}.log", "ab") as log_file:  # noqa: ASYNC230 (opened once)
            while True:
                try:
                    raw = await child.process.stdout.readline()
                except ValueError:  # a line longer than the limit: take what is buffered
                    raw = await child.process.stdout.read(1 << 20)
                if not raw:
                    return
                log_file.write(raw)
                log_file.flush()
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                child.recent.append(text)
                self.print.line(child.name, text)

    async def _migrate(self, service: str) -> None:
        child = await self._exec(service, "migrate")
        try:
            code = await asyncio.wait_for(child.process.wait(), timeout=120)
        except TimeoutError:
            signal_group(child.process.pid, signal.SIGKILL)
            await child.process.wait()
            code = -9
        if child.reader is not None:
            await child.reader
        if code != 0:
            raise LaunchError(f"migrations of {service} failed (exit {code}):\n" + "\n".join(child.recent))

    async def _spawn_service(self, service: str) -> None:
        self.children[service] = await self._exec(service)

    async def _wait_ready(self, service: str) -> None:
        """Poll ``GET /readyz`` until 200; fail fast when the process exits, with its last log lines."""
        import httpx  # imported here: it costs half a second and only service runs need it

        child = self.children[service]
        url = self.config.base_url(service) + "/readyz"
        deadline = time.monotonic() + self.config.ready_timeout
        last = "no answer"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if child.process.returncode is not None:
                    await asyncio.sleep(0.2)  # let the reader catch the last lines
                    raise LaunchError(
                        f"service {service} exited with code {child.process.returncode} before it was ready; "
                        "last log lines:\n" + "\n".join(child.recent)
                    )
                try:
                    response = await client.get(url)
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.2)
        raise LaunchError(
            f"service {service} not ready after {self.config.ready_timeout:.0f}s ({url}: {last}); "
            "last log lines:\n" + "\n".join(child.recent)
        )

    def _write_run_file(self, *, ready: bool) -> None:
        cfg = self.config
        processes: dict[str, Any] = {}
        if self.postgres.pid is not None:
            processes["postgres"] = process_identity(self.postgres.pid)
        for name, pid in self.broker.pids().items():
            processes[name] = process_identity(pid)
        for name, child in (*self.children.items(), *self.companions.items()):
            processes[name] = process_identity(child.process.pid)
        _secret, secret_path = jwt_secret(cfg.data_dir)
        self._run_content = {
            "pid": os.getpid(),
            "launcher": process_identity(os.getpid()),
            "ready": ready,
            "started_at": self._run_content.get("started_at") or datetime.now(UTC).isoformat(),
            "data_dir": str(cfg.data_dir),
            "logs_dir": str(self.logs_dir),
            "kafka_bootstrap_servers": self.broker.bootstrap_servers,
            "kafka_enable_idempotence": self.broker.idempotence,
            "broker": self._broker_description(),
            "database_url": self.postgres.url(),
            "databases": {service: self.postgres.url(database_of(service)) for service in cfg.with_database()},
            "services": {service: cfg.base_url(service) for service in cfg.services},
            "jwt_secret_file": str(secret_path),
            "processes": processes,
        }
        write_run_file(cfg.data_dir, self._run_content)

    def _broker_description(self) -> dict[str, Any]:
        broker = self.broker
        described: dict[str, Any] = {
            "kind": broker.kind,
            "version": broker.version,
            "nodes": broker.nodes,
            "replication_factor": broker.replication_factor,
            "start_seconds": broker.start_seconds,
        }
        if isinstance(broker, KafkaCluster) and broker.security is not None:
            described["security"] = {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "ca_file": str(broker.security.ca_file),
                "credentials_file": str(broker.security.directory / "credentials.json"),
                "admin_user": broker.security.admin_user,
            }
        return described

    def _announce(self, elapsed: float) -> None:
        say = self.print.say
        say(f"ready in {elapsed:.1f}s; run file: {run_file(self.config.data_dir)}")
        rows = [("kafka", self.broker.bootstrap_servers), ("postgres", self.postgres.url())]
        rows += [(service, self.config.base_url(service)) for service in self.config.services]
        rows.append(("logs", str(self.logs_dir)))
        for label, value in rows:
            say(f"  {label:<{PREFIX_WIDTH}} {value}")
        if "console" in self.config.services:
            console = self.config.base_url("console")
            say("open the consoles (demo sign-in: clinician-01..06, supervisor-01, compliance-01, operator-01):")
            for page, path in (
                ("sign in", "/signin"),
                ("clinician", "/clinician"),
                ("compliance", "/compliance"),
                ("operator", "/operator"),
            ):
                say(f"  {page:<{PREFIX_WIDTH}} {console}{path}")
        if self.config.duration is not None:
            say(f"stopping after {self.config.duration:g}s")
        else:
            say("press Ctrl-C to stop")

    # -- supervise --------------------------------------------------------------------------------

    async def _supervise(self) -> int:
        """Wait for a stop request, the duration, or the death of any child; 0 unless a child died."""
        deadline = None if self.config.duration is None else time.monotonic() + self.config.duration
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                self.print.say(f"duration of {self.config.duration:g}s elapsed")
                return 0
            died = self._dead_child()
            if died:
                self.print.say(f"ERROR: {died}; stopping everything")
                return 1
            timeout = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout)
        self.print.say(f"{self._stop_reason} received")
        return 0

    def _dead_child(self) -> str | None:
        for name, child in self.children.items():
            if child.process.returncode is not None:
                return f"service {name} exited with code {child.process.returncode}"
        if not self.postgres.running():
            return f"postgres exited; log {self.postgres.log_path}:\n{tail(self.postgres.log_path, 15)}"
        if not self.broker.running():
            return f"broker exited; logs in {self.logs_dir}"
        return None

    # -- stop -------------------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Services, then broker, then PostgreSQL; then make sure no child of ours is left."""
        self._stop.set()
        ours = self._known_processes()
        await self._stop_services()
        self.broker.stop()
        self.postgres.stop()
        content = read_run_file(self.config.data_dir)
        if content is not None and content.get("pid") == os.getpid():
            run_file(self.config.data_dir).unlink(missing_ok=True)
        left = alive(ours)
        for proc in left:
            self.print.say(f"WARNING: pid {proc.pid} still alive after stop; killing it")
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if ours:
            self.print.say("stopped")

    def _known_processes(self) -> list[psutil.Process]:
        pids = [child.process.pid for child in (*self.children.values(), *self.companions.values())]
        pids += list(self.broker.pids().values())
        pids += [self.postgres.pid] if self.postgres.pid is not None else []
        procs = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                procs += [proc, *proc.children(recursive=True)]
        return procs

    async def _stop_services(self) -> None:
        for companion in self.companions.values():  # stop the simulator before the services it calls
            signal_group(companion.process.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(companion.process.wait(), self.config.stop_timeout)
            signal_group(companion.process.pid, signal.SIGKILL)
        running = [child for child in self.children.values() if child.process.returncode is None]
        for child in running:
            signal_group(child.process.pid, signal.SIGKILL if self._force.is_set() else signal.SIGTERM)
        if running:
            waits = [asyncio.ensure_future(child.process.wait()) for child in running]
            forced = asyncio.ensure_future(self._force.wait())
            await asyncio.wait({*waits, forced}, timeout=self.config.stop_timeout)
            forced.cancel()
            for child in running:
                if child.process.returncode is None:
                    self.print.say(f"{child.name} did not stop in time; killing it")
            for wait in waits:
                wait.cancel()
        for child in self.children.values():
            signal_group(child.process.pid, signal.SIGKILL)  # the leader and anything it left in its group
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await asyncio.wait_for(child.process.wait(), 5)
            if child.reader is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(child.reader, 2)


def stop_processes(content: dict[str, Any], *, timeout: float = 10.0) -> int:
    """Stop the processes a ``run.json`` lists that still run (services, broker, PostgreSQL, in that order)."""
    processes: dict[str, Any] = content.get("processes") or {}
    brokers = [name for name in processes if name == "broker" or name.startswith("broker-")]
    order = [name for name in processes if name not in (*brokers, "postgres")] + [*brokers, "postgres"]
    stopped = 0
    for name in order:
        identity = processes.get(name)
        proc = find_process(identity) if identity else None
        if proc is None:
            continue
        first = signal.SIGINT if name == "postgres" else signal.SIGTERM  # SIGINT: PostgreSQL fast shutdown
        terminate_tree(proc, first, timeout)
        stopped += 1
    return stopped


def stop_run(data_dir: os.PathLike[str] | str, *, timeout: float = 30.0, out: TextIO | None = None) -> int:
    """``python -m rapport_local stop``: ask a running launcher to stop, or clean up after a dead one."""
    printer = Printer(out or sys.stdout, colour=False)
    path = Path(data_dir).absolute()
    content = read_run_file(path)
    if content is None:
        printer.say(f"no run.json in {path}: nothing to stop")
        return 0
    if launcher_alive(content):
        identity = content.get("launcher") or {"pid": content["pid"]}
        proc = find_process(identity)
        if proc is not None:
            printer.say(f"stopping launcher pid {proc.pid}")
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except psutil.TimeoutExpired:
                    printer.say(f"launcher did not stop in {timeout:.0f}s; killing it")
                    proc.kill()
    leftovers = stop_processes(content)
    if leftovers:
        printer.say(f"stopped {leftovers} leftover processes")
    run_file(path).unlink(missing_ok=True)
    printer.say("stopped")
    return 0


def parse_services(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"intake,consent"`` -> ``("intake", "consent")`` in canonical order; ``""`` -> none; ``"all"`` -> all."""
    names = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
    names = [name for name in names if name]
    if names == ["all"]:
        return SERVICES
    unknown = [name for name in names if name not in CATALOG]
    if unknown:
        raise ValueError(f"unknown services {', '.join(unknown)}; choose from {', '.join(CATALOG)}")
    return tuple(service for service in CATALOG if service in names)
