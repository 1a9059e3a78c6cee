"""Routes of in-app messaging between a client and their assigned clinician (``use_cases.messages``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from rapport_common.http import outcome_response
from rapport_common.service import IdempotencyKey
from rapport_session.api.deps import CallerDep, ConsentDep, FlagConfigDep, SettingsDep, TransactionsDep
from rapport_session.models import MessageRequest, MessageView
from rapport_session.use_cases import messages

router = APIRouter(prefix="/messages", tags=["messages"])


@router.post("", status_code=201, response_model=MessageView)
async def send_message(
    request: MessageRequest,
    caller: CallerDep,
    transactions: TransactionsDep,
    consent: ConsentDep,
    settings: SettingsDep,
    flag_config: FlagConfigDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A client writes to their clinician, or a clinician to an assigned client. Emits ``message-sent``."""
    outcome = await messages.send_message(
        transactions,
        principal=caller,
        request=request,
        idempotency_key=idempotency_key,
        consent=consent,
        flag_config=flag_config,
        settings=settings,
    )
    return outcome_response(outcome)


@router.get("", response_model=list[MessageView])
async def list_messages(
    caller: CallerDep,
    transactions: TransactionsDep,
    client_id: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """The conversation of a client with their clinician, newest first (participants only)."""
    async with transactions.begin() as uow:
        return await messages.list_messages(uow, principal=caller, client_id=client_id, limit=limit)
