"""In-app messaging between a client and their assigned clinician.

Messages are stored here. When the client's ``message-scanning`` consent is active, the detector
(``domain.message_flags``) looks for off-platform contact, payment requests and social-media invitations;
``message-sent`` carries the flags only, never the text. Without that consent nothing is scanned and the
event carries no flags. Flags are not shown to the sender.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rapport_common.db import idempotency, outbox
from rapport_common.events.session import MessageSent, MessageSentData, Participant
from rapport_common.service import ClockDep
from rapport_session import consent_client as scopes
from rapport_session.api.deps import (
    CallerDep,
    ConsentDep,
    FlagConfigDep,
    PoolDep,
    SettingsDep,
    authorize_client,
    forbid,
)
from rapport_session.api.models import Body, Id
from rapport_session.domain.message_flags import detect_flags
from rapport_session.events import build
from rapport_session.store import messages as store

router = APIRouter(prefix="/messages", tags=["messages"])


class MessageRequest(Body):
    client_id: Id = Field(description="the client of the conversation (a client may omit it: themself)")
    body: str = Field(min_length=1)


class MessageView(BaseModel):
    message_id: str
    sender: str
    sent_at: datetime
    body: str | None = None


@router.post("", status_code=201, response_model=MessageView)
async def send_message(
    request: MessageRequest,
    caller: CallerDep,
    pool: PoolDep,
    clock: ClockDep,
    consent: ConsentDep,
    settings: SettingsDep,
    flag_config: FlagConfigDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """A client writes to their clinician, or a clinician to an assigned client. Emits ``message-sent``."""
    if caller.role not in ("client", "clinician"):
        raise forbid(f"role {caller.role!r} may not send messages")
    sender: Participant = caller.role  # narrowed just above: client or clinician
    if len(request.body) > settings.message_max_chars:
        raise HTTPException(422, f"body.body: at most {settings.message_max_chars} characters")
    if not request.body.strip():
        raise HTTPException(422, "body.body: must not be blank")
    async with pool.acquire() as conn:
        clinician_id = await authorize_client(conn, caller, request.client_id)
    scanned = await consent.is_active(request.client_id, scopes.SCANNING)
    flags = sorted(detect_flags(request.body, config=flag_config)) if scanned else []
    now = clock.now()
    message_id = str(uuid.uuid4())
    fingerprint = request.model_dump(mode="json")
    scope = idempotency.caller_scope("session.message", caller)
    async with pool.acquire() as conn, conn.transaction():
        earlier = await idempotency.replay(conn, scope=scope, key=idempotency_key, body=fingerprint)
        if earlier is not None:
            return JSONResponse(earlier.response, status_code=earlier.status_code)
        await store.insert(
            conn,
            message_id=message_id,
            client_id=request.client_id,
            clinician_id=clinician_id,
            sender=sender,
            body=request.body,
            flags=flags,
            scanned=scanned,
            sent_at=now,
        )
        data = MessageSentData(
            message_id=message_id,
            client_id=request.client_id,
            clinician_id=clinician_id,
            sender=sender,
            sent_at=now,
            flags=flags,
        )
        await outbox.enqueue(conn, [build(MessageSent, client_id=request.client_id, data=data, at=now)])
        view = MessageView(message_id=message_id, sender=sender, sent_at=now).model_dump(mode="json")
        await idempotency.remember(
            conn, scope=scope, key=idempotency_key, body=fingerprint, status_code=201, response=view
        )
    return view


@router.get("", response_model=list[MessageView])
async def list_messages(
    caller: CallerDep,
    pool: PoolDep,
    client_id: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """The conversation of a client with their clinician, newest first (participants only)."""
    if caller.role not in ("client", "clinician"):
        raise forbid(f"role {caller.role!r} may not read messages")
    async with pool.acquire() as conn:
        clinician_id = await authorize_client(conn, caller, client_id)
        rows = await store.conversation(conn, client_id=client_id, clinician_id=clinician_id, limit=limit)
    return [MessageView(**dict(row)) for row in rows]
