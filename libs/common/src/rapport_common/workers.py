"""Background workers: the long-running parts of a service that are not Kafka consumers (timers, sweeps,
the monitor's hold job and its live-alert hub).

The service runtime starts them after its consumers, tells them to stop at shutdown (a worker finishes the
round in hand and returns, so shutdown is prompt and nothing is left half done), closes them after, and
readiness reports each by name: a worker whose ``run`` ended on an error makes the service not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from rapport_common.db.pool import is_transient_db_error

log = logging.getLogger(__name__)


class Worker(Protocol):
    #: a short name for logs and readiness (``session-timers``, ``consent-expiry``...)
    name: str

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    async def close(self) -> None: ...


class PollingWorker:
    """Runs ``round()`` every ``poll_s`` seconds until stopped.

    A database outage (a transient error) is logged and waited out. Any other error is logged and the next
    round tries again when ``keep_going`` (a job whose rounds are independent), or ends ``run`` with it
    (readiness then reports the worker failed) when a later round could only repeat it.
    """

    def __init__(
        self, name: str, round: Callable[[], Awaitable[object]], *, poll_s: float, keep_going: bool = True
    ) -> None:
        self.name = name
        self._round = round
        self.poll_s = poll_s
        self.keep_going = keep_going
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        return None

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        return None

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._round()
            except Exception as exc:
                if is_transient_db_error(exc):
                    log.warning(f"{self.name} lost the database", extra={"reason": type(exc).__name__})
                elif self.keep_going:
                    log.exception(f"{self.name} failed; retrying at the next round")
                else:
                    raise
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_s)
