"""asyncpg pool with JSON codecs, and the errors that mean "the database is down, retry later"."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

#: exceptions that mean the database is unreachable or restarting: retry, never dead-letter
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InterfaceError,
)


#: SQLSTATE classes/codes that mean unavailability rather than a bad statement
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40001", "40P01")


def is_transient_db_error(exc: BaseException) -> bool:
    """True when ``exc`` means "the database is unavailable right now": retry with backoff, never dead-letter.

    Covers network errors, connection exceptions (08), insufficient resources (53), operator intervention
    (57P: shutdown, cannot connect now), serialization failures and deadlocks, and a database that an
    operator has closed to new connections for maintenance.
    """
    if isinstance(exc, TRANSIENT_DB_ERRORS):
        return True
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
        return True
    return sqlstate == "55000" and "not currently accepting connections" in str(exc)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections encode/decode json and jsonb as Python objects."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection, **kwargs)
    assert pool is not None
    return pool
