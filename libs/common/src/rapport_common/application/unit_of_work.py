"""The unit of work a use case runs in: one connection and its transaction, the outbox, the clock's "now",
and (for commands) the caller-scoped idempotency key.

A use case is a keyword-only function taking a :class:`UnitOfWork`; it reads and writes through the
service's store with ``uow.conn``, publishes with ``uow.publish`` (the outbox row commits with the change it
reports) and reads time only from ``uow.now``. It never sees HTTP or Kafka, so a route and a consumer call the
same function, and a test drives it with a manual clock.

An idempotent command goes through :meth:`Transactions.command`: a retry with the same key and body gets the
first :class:`Outcome` back with no second effect; the same key for another body is a 422.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from rapport_common.auth import Principal
from rapport_common.clock import Clock
from rapport_common.db import idempotency, outbox
from rapport_common.events.envelope import CloudEvent


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    conn: asyncpg.Connection
    #: the one "now" of this unit of work, read once from the service's clock when it began
    now: datetime

    async def publish(self, *events: CloudEvent[Any]) -> None:
        """Enqueue ``events`` in the outbox, in this transaction."""
        await outbox.enqueue(self.conn, events)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command answers: a status and a JSON-ready body (``replayed`` when it is a stored answer)."""

    status_code: int
    body: Any
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A command's idempotency: the action, who asked, the key they sent (or None) and the request body."""

    action: str
    principal: Principal
    key: str | None
    body: Any

    @property
    def scope(self) -> str:
        return idempotency.caller_scope(self.action, self.principal)


class Transactions:
    """Opens units of work on a service's pool with its clock; the runtime holds one."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self.pool = pool
        self.clock = clock

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield UnitOfWork(conn=conn, now=self.clock.now())

    async def command(
        self, use_case: Callable[[UnitOfWork], Awaitable[Outcome]], *, idempotent: Idempotency
    ) -> Outcome:
        """Run ``use_case`` once per idempotency key: its outcome is stored in its own transaction, and a
        retry is answered from the store (a concurrent retry waits for the first to commit)."""
        scope = idempotent.scope
        async with self.begin() as uow:
            stored = await idempotency.replay(uow.conn, scope=scope, key=idempotent.key, body=idempotent.body)
            if stored is not None:
                return Outcome(stored.status_code, stored.response, replayed=True)
            outcome = await use_case(uow)
            await idempotency.remember(
                uow.conn,
                scope=scope,
                key=idempotent.key,
                body=idempotent.body,
                status_code=outcome.status_code,
                response=outcome.body,
            )
            return outcome
