"""Dependencies and the idempotent-POST helpers shared by the intake routes."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rapport_common.auth import Principal
from rapport_common.db import idempotency

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retried POST with the same key and body gets the first response, with no second effect",
    ),
]


async def pool_of(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    return pool


PoolDep = Annotated[asyncpg.Pool, Depends(pool_of)]


class IdempotentPost:
    """One POST's idempotency: keys are scoped to the action and the caller, so one caller can never be
    handed another's stored response. Both calls run in the transaction of the effects."""

    def __init__(self, action: str, principal: Principal, key: str | None, body: dict[str, Any]) -> None:
        self.scope = idempotency.caller_scope(f"intake:{action}", principal)
        self.key = key
        self.body = body

    async def replay(self, conn: asyncpg.Connection) -> JSONResponse | None:
        stored = await idempotency.replay(conn, scope=self.scope, key=self.key, body=self.body)
        if stored is None:
            return None
        return JSONResponse(stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})

    async def respond(self, conn: asyncpg.Connection, result: BaseModel, status_code: int) -> JSONResponse:
        content = result.model_dump(mode="json")
        await idempotency.remember(
            conn, scope=self.scope, key=self.key, body=self.body, status_code=status_code, response=content
        )
        return JSONResponse(content, status_code=status_code)
