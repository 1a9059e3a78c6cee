"""A migrated monitor database per test (real PostgreSQL), for the store modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from rapport_alliance_monitor.app import SPEC
from rapport_common.db.migrations import apply_migrations
from rapport_common.db.pool import create_pool


@pytest.fixture
async def monitor_pool(make_database: Callable[..., Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    url = await make_database("am_store")
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, SPEC.name, SPEC.migrations)
    finally:
        await conn.close()
    pool = await create_pool(url)
    try:
        yield pool
    finally:
        await pool.close()
