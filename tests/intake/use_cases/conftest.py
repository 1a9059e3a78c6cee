"""Use cases driven without HTTP: each test gets a unit of work on the intake database (real PostgreSQL,
migrated by the intake app of ``tests/intake/conftest.py``) with a chosen "now", rolled back at the end so
nothing reaches the outbox relay. ``published`` reads back the events the unit of work put in the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from rapport_common.application.unit_of_work import UnitOfWork
from rapport_common.events import decode_event

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

UnitOfWorkAt = Callable[[datetime], AbstractAsyncContextManager[UnitOfWork]]


@pytest.fixture
async def units(intake: Any) -> AsyncIterator[UnitOfWorkAt]:
    """``async with units(now) as uow``: units of work on one connection, in one transaction rolled back
    when the test ends (so later units see what earlier ones wrote, as committed ones would)."""
    async with intake.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()

        @asynccontextmanager
        async def at(now: datetime) -> AsyncIterator[UnitOfWork]:
            yield UnitOfWork(conn=conn, now=now)

        try:
            yield at
        finally:
            await transaction.rollback()


@pytest.fixture
async def uow(units: UnitOfWorkAt) -> AsyncIterator[UnitOfWork]:
    async with units(NOW) as unit:
        yield unit


@pytest.fixture
def published() -> Callable[[UnitOfWork, str], Awaitable[list[Any]]]:
    """``await published(uow, subject)`` -> the decoded events in the outbox for ``subject``, in order."""

    async def read(uow: UnitOfWork, subject: str) -> list[Any]:
        rows = await uow.conn.fetch("SELECT value, headers FROM outbox WHERE key = $1 ORDER BY id", subject.encode())
        return [decode_event(row["value"], [(n, v.encode()) for n, v in row["headers"]]) for row in rows]

    return read
