"""Idempotency keys for POSTs: the response to the first request is stored in the same transaction as its
effects, and a retry with the same key and body gets that response back instead of a second effect.

Keys are scoped to the action and the caller (:func:`caller_scope`): two callers who happen to pick the same
key never collide, and no caller is ever handed another's stored response.

Usage inside a route, in the transaction that makes the change::

    scope = idempotency.caller_scope("schedule", caller)
    async with pool.acquire() as conn, conn.transaction():
        if (earlier := await idempotency.replay(conn, scope=scope, key=..., body=...)) is not None:
            return earlier
        ... effects ...
        await idempotency.remember(conn, scope=scope, key=..., body=..., status_code=201, response=result)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import HTTPException

from rapport_common.auth import Principal

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    response: Any


def caller_scope(action: str, principal: Principal) -> str:
    """The key scope of ``action`` done by ``principal``: ``<action>:<role>:<subject>``."""
    return f"{action}:{principal.role}:{principal.subject}"


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise HTTPException(422, f"Idempotency-Key header must be 1-{MAX_KEY_LENGTH} characters")


async def replay(conn: asyncpg.Connection, *, scope: str, key: str | None, body: Any) -> StoredResponse | None:
    """The stored response for ``key``, or None when the request is new. 422 if the key was used for a
    different request. Locks the key's row so a concurrent retry waits for the first to commit."""
    if key is None:
        return None
    _check_key(key)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{scope}:{key}")
    row = await conn.fetchrow(
        "SELECT request_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    if row is None:
        return None
    if row["request_hash"] != request_hash(body):
        raise HTTPException(422, "Idempotency-Key was already used for a different request")
    return StoredResponse(row["status_code"], row["response"])


async def remember(
    conn: asyncpg.Connection, *, scope: str, key: str | None, body: Any, status_code: int, response: Any
) -> None:
    """Store the response of a new request under ``key`` (no-op without a key)."""
    if key is None:
        return
    await conn.execute(
        """INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)
           VALUES ($1, $2, $3, $4, $5)""",
        scope,
        key,
        request_hash(body),
        status_code,
        response,
    )
