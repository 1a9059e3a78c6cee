"""Child-process hygiene shared by PostgreSQL, the broker and the services: no orphans, ever.

Every child is started in its own process group (so a Ctrl-C in the terminal reaches only the launcher,
which then stops the children in order) and, on Linux, with a parent-death signal (``PR_SET_PDEATHSIG``):
if the launcher dies for any reason, even ``SIGKILL``, the kernel signals each child. The parent-death
signal is tied to the *thread* that forked the child, so children must be spawned from a thread that lives
as long as the launcher (the main thread; never from ``asyncio.to_thread``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import psutil

_PR_SET_PDEATHSIG = 1


def _pdeathsig_setter(death_signal: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks the kernel to send ``death_signal`` when the parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os.kill(os.getpid(), death_signal)

    return preexec


def child_kwargs(death_signal: int = signal.SIGTERM) -> dict[str, Any]:
    """Keyword arguments for ``subprocess.Popen``/``asyncio.create_subprocess_exec`` (own group, dies with us)."""
    kwargs: dict[str, Any] = {"process_group": 0, "close_fds": True}
    preexec = _pdeathsig_setter(death_signal)
    if preexec is not None:
        kwargs["preexec_fn"] = preexec
    return kwargs


def process_identity(pid: int) -> dict[str, Any]:
    """``{"pid", "create_time"}``: enough to recognise the same process later despite pid reuse."""
    try:
        return {"pid": pid, "create_time": psutil.Process(pid).create_time()}
    except psutil.Error:
        return {"pid": pid, "create_time": None}


def find_process(identity: dict[str, Any]) -> psutil.Process | None:
    """The live process matching a :func:`process_identity`, or None (gone, or the pid was reused)."""
    try:
        proc = psutil.Process(int(identity["pid"]))
        created = identity.get("create_time")
        if created is not None and abs(proc.create_time() - float(created)) > 0.01:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.Error, KeyError, TypeError, ValueError):
        return None


def signal_group(pid: int, sig: int) -> None:
    """Signal the process group led by ``pid`` (our children lead their own), else just the process."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def terminate_tree(proc: psutil.Process, first_signal: int, timeout: float) -> None:
    """Send ``first_signal`` to ``proc``'s group, wait ``timeout``, then SIGKILL it and any descendants left."""
    try:
        descendants = proc.children(recursive=True)
    except psutil.Error:
        descendants = []
    signal_group(proc.pid, first_signal)
    _gone, alive = psutil.wait_procs([proc, *descendants], timeout=timeout)
    for leftover in alive:
        with contextlib.suppress(psutil.Error):
            leftover.kill()
    psutil.wait_procs(alive, timeout=5)


def alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The processes of ``procs`` still running (zombies count as gone)."""
    result = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                result.append(proc)
    return result


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it; a small race remains until it is bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_port(host: str, port: int, timeout: float) -> bool:
    """Poll until ``host:port`` accepts TCP connections; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(host, port):
            return True
        time.sleep(0.05)
    return False


def tail(path: os.PathLike[str] | str, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64_000))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
