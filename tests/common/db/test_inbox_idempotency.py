"""The inbox claims each event id once per consumer; idempotency keys replay the first response."""

from __future__ import annotations

import asyncpg
import pytest
from fastapi import HTTPException

from rapport_common.db import idempotency, inbox


async def test_inbox_claims_new_ids_only(migrated_pool: asyncpg.Pool) -> None:
    async with migrated_pool.acquire() as conn, conn.transaction():
        assert await inbox.claim(conn, "c1", ["a", "b", "a"]) == {"a", "b"}
    async with migrated_pool.acquire() as conn, conn.transaction():
        assert await inbox.claim(conn, "c1", ["b", "c"]) == {"c"}
        assert await inbox.claim(conn, "other-consumer", ["b"]) == {"b"}


async def test_inbox_claim_rolls_back_with_the_effects(migrated_pool: asyncpg.Pool) -> None:
    with pytest.raises(RuntimeError, match="effect failed"):
        async with migrated_pool.acquire() as conn, conn.transaction():
            assert await inbox.claim(conn, "c1", ["x"]) == {"x"}
            raise RuntimeError("effect failed")
    async with migrated_pool.acquire() as conn, conn.transaction():
        assert await inbox.claim(conn, "c1", ["x"]) == {"x"}, "a rolled-back claim does not count"


async def test_inbox_claim_outside_transaction_is_refused(migrated_pool: asyncpg.Pool) -> None:
    async with migrated_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the effects' transaction"):
            await inbox.claim(conn, "c1", ["a"])


async def test_idempotency_key_replays_first_response(migrated_pool: asyncpg.Pool) -> None:
    body = {"age_band": "adult"}
    async with migrated_pool.acquire() as conn, conn.transaction():
        assert await idempotency.replay(conn, scope="clients", key="k1", body=body) is None
        await idempotency.remember(
            conn, scope="clients", key="k1", body=body, status_code=201, response={"client_id": "c-1"}
        )
    async with migrated_pool.acquire() as conn, conn.transaction():
        stored = await idempotency.replay(conn, scope="clients", key="k1", body=body)
    assert stored is not None
    assert (stored.status_code, stored.response) == (201, {"client_id": "c-1"})


async def test_idempotency_key_reused_for_other_request_is_422(migrated_pool: asyncpg.Pool) -> None:
    async with migrated_pool.acquire() as conn, conn.transaction():
        await idempotency.remember(conn, scope="s", key="k", body={"a": 1}, status_code=201, response={})
    async with migrated_pool.acquire() as conn, conn.transaction():
        with pytest.raises(HTTPException) as refused:
            await idempotency.replay(conn, scope="s", key="k", body={"a": 2})
    assert refused.value.status_code == 422
    assert "Idempotency-Key" in str(refused.value.detail)
