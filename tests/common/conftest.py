"""Fixtures for the plumbing tests: a migrated database with a pool, a producer, broker process control."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import psutil
import pytest

from rapport_common.db.migrations import apply_migrations
from rapport_common.db.pool import create_pool
from rapport_common.kafka.producer import EventProducer


@pytest.fixture
async def migrated_url(make_database: Any) -> str:
    """A fresh database with the common tables (outbox, inbox, idempotency)."""
    url: str = await make_database()
    conn = await asyncpg.connect(url)
    await apply_migrations(conn, "test", None)
    await conn.close()
    return url


@pytest.fixture
async def migrated_pool(migrated_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on :func:`migrated_url`."""
    pool = await create_pool(migrated_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def producer(kafka_bootstrap_servers: str, kafka_idempotence: bool) -> AsyncIterator[EventProducer]:
    p = EventProducer(kafka_bootstrap_servers, enable_idempotence=kafka_idempotence, client_id="test")
    await p.start()
    yield p
    await p.stop()


class BrokerControl:
    """Pause and resume the broker process (SIGSTOP/SIGCONT), for fault tests."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process

    @contextmanager
    def paused(self) -> Iterator[None]:
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def broker_control(kafka_bootstrap_servers: str) -> BrokerControl:
    """The local broker process listening on the bootstrap port (embedded Tansu or a local Kafka)."""
    port = int(kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return BrokerControl(psutil.Process(conn.pid))
    pytest.skip(f"no local broker process listens on port {port}: cannot pause it in this infrastructure mode")
