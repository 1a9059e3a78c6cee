"""The alert hub: one LISTEN connection per instance, one queue per open stream.

``alert_history`` inserts NOTIFY ``rapport_alliance_alerts`` (a trigger), whichever instance wrote them.
A notification only wakes the hub; it then reads every history row after the last one it dispatched
(ids commit in order, see ``store/alerts.py``), so a lost notification or a reconnect of the listener
loses nothing: the next wake-up or the fallback poll picks the rows up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from rapport_alliance_monitor.domain.visibility import AlertFilter, visibility_of
from rapport_alliance_monitor.store import alerts
from rapport_common.auth import Principal
from rapport_common.db.pool import TRANSIENT_DB_ERRORS

log = logging.getLogger(__name__)

CHANNEL = "rapport_alliance_alerts"
QUEUE_LIMIT = 1000


@dataclass(eq=False)
class Subscription:
    principal: Principal
    #: the alerts the principal may see (None: none), worked out once when the stream subscribes
    seen_by: AlertFilter | None
    #: history rows; None ends the stream (hub closing, or the subscriber fell too far behind)
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT + 1))
    #: the history id the hub had dispatched when the stream subscribed ("from now on")
    start_after: int = 0


class AlertHub:
    """A worker of the service runtime (:mod:`rapport_common.workers`): started, stopped, closed by it."""

    name = "alert-hub"

    def __init__(self, dsn: str, pool: asyncpg.Pool, *, poll_s: float) -> None:
        self.dsn = dsn
        self.pool = pool
        self.poll_s = poll_s
        self.last_id = 0
        self._subscriptions: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    # -- streams --------------------------------------------------------------------------------------

    def subscribe(self, principal: Principal) -> Subscription:
        subscription = Subscription(principal, visibility_of(principal), start_after=self.last_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    # -- worker (started, stopped and closed by the service runtime) ------------------------------------

    async def start(self) -> None:
        self.last_id = await alerts.last_history_id(self.pool)
        await self._listen()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.queue.put_nowait(None)
        self._subscriptions.clear()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if self._listener is None or self._listener.is_closed():
                    await self._listen()
                await self._dispatch_new()
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("alert hub lost the database", extra={"reason": type(exc).__name__})
                self._listener = None

    # -- internals ------------------------------------------------------------------------------------

    async def _listen(self) -> None:
        self._listener = await asyncpg.connect(self.dsn)
        await self._listener.add_listener(CHANNEL, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _dispatch_new(self) -> None:
        while True:
            rows = await alerts.history_since(self.pool, self.last_id)
            for row in rows:
                entry = dict(row)
                self.last_id = entry["history_id"]
                for subscription in list(self._subscriptions):
                    if subscription.seen_by is not None and subscription.seen_by.admits(entry):
                        self._deliver(subscription, entry)
            if len(rows) < 500:
                return

    def _deliver(self, subscription: Subscription, entry: dict[str, Any]) -> None:
        if subscription.queue.qsize() >= QUEUE_LIMIT:
            # too far behind: end its stream; the client reconnects with Last-Event-ID and catches up
            self._subscriptions.discard(subscription)
            subscription.queue.put_nowait(None)
            return
        subscription.queue.put_nowait(entry)
