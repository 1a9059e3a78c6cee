"""Routes of scheduling and the live session lifecycle: each parses, calls one use case
(``use_cases.sessions``) and answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from rapport_common.application.unit_of_work import Idempotency
from rapport_common.http import outcome_response
from rapport_common.service import IdempotencyKey
from rapport_session.api.deps import CallerDep, ConsentDep, SettingsDep, TransactionsDep
from rapport_session.models import ParticipantRequest, RescheduleRequest, ScheduleRequest, SessionView
from rapport_session.use_cases import sessions

router = APIRouter(prefix="/sessions", tags=["sessions"])


@router.post("", status_code=201, response_model=SessionView)
async def schedule_session(
    body: ScheduleRequest,
    caller: CallerDep,
    transactions: TransactionsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Book a session (clinician for an assigned client, or the service role). Emits ``scheduled``."""
    outcome = await transactions.command(
        lambda uow: sessions.schedule_session(uow, principal=caller, request=body, settings=settings),
        idempotent=Idempotency("session.schedule", caller, idempotency_key, body.model_dump(mode="json")),
    )
    return outcome_response(outcome)


@router.get("/{session_id}", response_model=SessionView)
async def get_session(session_id: str, caller: CallerDep, transactions: TransactionsDep) -> Any:
    async with transactions.begin() as uow:
        return await sessions.get_session(uow, principal=caller, session_id=session_id)


@router.get("", response_model=list[SessionView])
async def list_sessions(
    caller: CallerDep, transactions: TransactionsDep, client_id: Annotated[str | None, Query(max_length=200)] = None
) -> Any:
    """A client's own sessions, or a clinician's (optionally for one assigned client)."""
    async with transactions.begin() as uow:
        return await sessions.list_sessions(uow, principal=caller, client_id=client_id)


@router.post("/{session_id}/reschedule", response_model=SessionView)
async def reschedule_session(
    session_id: str, body: RescheduleRequest, caller: CallerDep, transactions: TransactionsDep, settings: SettingsDep
) -> Any:
    """Move a scheduled session. Emits ``scheduled`` again for the same ``session_id`` with the new times."""
    async with transactions.begin() as uow:
        return await sessions.reschedule_session(
            uow, principal=caller, session_id=session_id, request=body, settings=settings
        )


@router.post("/{session_id}/cancel", response_model=SessionView)
async def cancel_session(
    session_id: str, caller: CallerDep, transactions: TransactionsDep, settings: SettingsDep
) -> Any:
    """Cancel a scheduled session; the service decides whether it is late. Emits ``cancelled``."""
    async with transactions.begin() as uow:
        return await sessions.cancel_session(uow, principal=caller, session_id=session_id, settings=settings)


@router.post("/{session_id}/start", response_model=SessionView)
async def start_session(
    session_id: str, caller: CallerDep, transactions: TransactionsDep, consent: ConsentDep, settings: SettingsDep
) -> Any:
    """Go live (clinician or service role). Needs the client's ``telehealth-treatment`` consent."""
    return await sessions.start_session(
        transactions, principal=caller, session_id=session_id, consent=consent, settings=settings
    )


@router.post("/{session_id}/join", response_model=SessionView)
async def join_session(
    session_id: str, caller: CallerDep, transactions: TransactionsDep, body: ParticipantRequest | None = None
) -> Any:
    """A participant enters the (waiting) room. Emits ``participant-joined``."""
    async with transactions.begin() as uow:
        return await sessions.join_session(
            uow, principal=caller, session_id=session_id, participant=body.participant if body else None
        )


@router.post("/{session_id}/leave", response_model=SessionView)
async def leave_session(
    session_id: str, caller: CallerDep, transactions: TransactionsDep, body: ParticipantRequest | None = None
) -> Any:
    """A participant leaves. Emits ``participant-left``."""
    async with transactions.begin() as uow:
        return await sessions.leave_session(
            uow, principal=caller, session_id=session_id, participant=body.participant if body else None
        )


@router.post("/{session_id}/end", response_model=SessionView)
async def end_session(session_id: str, caller: CallerDep, transactions: TransactionsDep) -> Any:
    """End a running session (clinician or service role). Emits ``ended``; stops the overrun timer."""
    async with transactions.begin() as uow:
        return await sessions.end_session(uow, principal=caller, session_id=session_id)


@router.post("/{session_id}/recording", response_model=SessionView)
async def start_recording(
    session_id: str, caller: CallerDep, transactions: TransactionsDep, consent: ConsentDep
) -> Any:
    """Start recording a running session. Needs the client's ``session-recording`` consent."""
    return await sessions.start_recording(transactions, principal=caller, session_id=session_id, consent=consent)
