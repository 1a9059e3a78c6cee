"""The hold job: decides held events whose hold (processing time) has ended.

It has the consumer shape (start/run/stop/close) so the service runtime stops it at once on shutdown.
Every instance runs it; the per-client locks make two instances take turns rather than decide an event
twice, and a hold row is deleted in the transaction that evaluates its event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from rapport_alliance_monitor.analysis import Analysis
from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.metrics import CONSENT_HOLDS
from rapport_alliance_monitor.store import holds
from rapport_common.db.pool import is_transient_db_error

log = logging.getLogger(__name__)


class ConsentHoldJob:
    group_id = "consent-holds"

    def __init__(self, pool: asyncpg.Pool, config: RulesConfig, *, poll_s: float) -> None:
        self.pool = pool
        self.config = config
        self.poll_s = poll_s
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
                while await self.expire_once():
                    pass
                CONSENT_HOLDS.set(await holds.count(self.pool))
            except Exception as exc:
                if not is_transient_db_error(exc):
                    raise
                log.warning("hold job lost the database", extra={"reason": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_s)

    async def expire_once(self) -> int:
        """One transaction deciding up to a batch of due holds; returns how many were decided."""
        async with self.pool.acquire() as conn, conn.transaction():
            analysis = Analysis(conn, self.config, hold_seconds=self.config.consent.hold_seconds)
            decided = await analysis.expire_holds()
            stored = await analysis.finish()
        stored.observe()
        if decided:
            log.info("consent holds decided", extra={"count": decided})
        return decided
