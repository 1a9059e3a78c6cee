"""Scheduling and the live session lifecycle: schedule, reschedule, cancel, start, join, leave, end, record.

Every state change and its event are written in one transaction (outbox). Timers for the no-show check and
the overrun reports are rows in ``session_timers`` written in the same transaction, so they survive
restarts; the timer job (``timers.py``) fires them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import JSONResponse

from rapport_common.db import idempotency, outbox
from rapport_common.events.session import (
    Participant,
    ParticipantData,
    ParticipantJoined,
    ParticipantLeft,
    RecordingStarted,
    RecordingStartedData,
    SessionCancelled,
    SessionCancelledData,
    SessionEnded,
    SessionEndedData,
    SessionScheduled,
    SessionScheduledData,
    SessionStarted,
    SessionStartedData,
)
from rapport_common.service import ClockDep
from rapport_session import consent_client as scopes
from rapport_session.api.deps import (
    CallerDep,
    ConsentDep,
    PoolDep,
    SettingsDep,
    authorize_client,
    authorize_session,
    forbid,
    not_found,
)
from rapport_session.api.models import ParticipantRequest, RescheduleRequest, ScheduleRequest, SessionView
from rapport_session.domain import schedule
from rapport_session.events import build, session_fields
from rapport_session.store import sessions

router = APIRouter(prefix="/sessions", tags=["sessions"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _conflict(session: Any, action: str) -> HTTPException:
    return HTTPException(409, f"status: cannot {action} a session that is {session['status']}")


@router.post("", status_code=201, response_model=SessionView)
async def schedule_session(
    body: ScheduleRequest,
    caller: CallerDep,
    pool: PoolDep,
    clock: ClockDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Book a session (clinician for an assigned client, or the service role). Emits ``scheduled``."""
    if caller.role not in ("clinician", "service"):
        raise forbid(f"role {caller.role!r} may not schedule sessions")
    now = clock.now()
    if body.scheduled_start <= now:
        raise HTTPException(422, "scheduled_start: must be in the future")
    request = body.model_dump(mode="json")
    scope = idempotency.caller_scope("session.schedule", caller)
    async with pool.acquire() as conn, conn.transaction():
        earlier = await idempotency.replay(conn, scope=scope, key=idempotency_key, body=request)
        if earlier is not None:
            return JSONResponse(earlier.response, status_code=earlier.status_code)
        clinician_id = await authorize_client(conn, caller, body.client_id)
        session_id = body.session_id or str(uuid.uuid4())
        if await sessions.get(conn, session_id) is not None:
            raise HTTPException(409, "session_id: already exists")
        row = await sessions.insert(
            conn,
            session_id=session_id,
            client_id=body.client_id,
            clinician_id=clinician_id,
            modality=body.modality,
            scheduled_start=body.scheduled_start,
            scheduled_end=body.scheduled_end,
        )
        await _arm_no_show(conn, row, settings.no_show_after_min)
        await outbox.enqueue(conn, [_scheduled_event(row, now)])
        view = SessionView.of(row).model_dump(mode="json")
        await idempotency.remember(conn, scope=scope, key=idempotency_key, body=request, status_code=201, response=view)
    return view


@router.get("/{session_id}", response_model=SessionView)
async def get_session(session_id: str, caller: CallerDep, pool: PoolDep) -> Any:
    async with pool.acquire() as conn:
        row = await sessions.get(conn, session_id)
    if row is None:
        raise not_found("session")
    authorize_session(caller, row, roles=("client", "clinician", "service"))
    return SessionView.of(row)


@router.get("", response_model=list[SessionView])
async def list_sessions(
    caller: CallerDep, pool: PoolDep, client_id: Annotated[str | None, Query(max_length=200)] = None
) -> Any:
    """A client's own sessions, or a clinician's (optionally for one assigned client)."""
    async with pool.acquire() as conn:
        if caller.role == "client":
            if client_id not in (None, caller.subject):
                raise forbid("client_id: a client sees only their own sessions")
            rows = await sessions.list_for(conn, client_id=caller.subject)
        elif caller.role == "clinician":
            rows = await sessions.list_for(conn, client_id=client_id, clinician_id=caller.subject)
        elif caller.role == "service":
            if client_id is None:
                raise HTTPException(422, "client_id: required for the service role")
            rows = await sessions.list_for(conn, client_id=client_id)
        else:
            raise forbid(f"role {caller.role!r} may not list sessions")
    return [SessionView.of(row) for row in rows]


@router.post("/{session_id}/reschedule", response_model=SessionView)
async def reschedule_session(
    session_id: str, body: RescheduleRequest, caller: CallerDep, pool: PoolDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    """Move a scheduled session. Emits ``scheduled`` again for the same ``session_id`` with the new times."""
    now = clock.now()
    if body.scheduled_start <= now:
        raise HTTPException(422, "scheduled_start: must be in the future")
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, session_id)
        authorize_session(caller, row, roles=("client", "clinician"))
        if row["status"] != "scheduled":
            raise _conflict(row, "reschedule")
        row = await sessions.update(
            conn, session_id, scheduled_start=body.scheduled_start, scheduled_end=body.scheduled_end
        )
        await _arm_no_show(conn, row, settings.no_show_after_min)
        await outbox.enqueue(conn, [_scheduled_event(row, now)])
    return SessionView.of(row)


@router.post("/{session_id}/cancel", response_model=SessionView)
async def cancel_session(
    session_id: str, caller: CallerDep, pool: PoolDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    """Cancel a scheduled session; the service decides whether it is late. Emits ``cancelled``."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, session_id)
        # with only these roles allowed, authorize_session answers "client" or "clinician"
        by = cast(Participant, authorize_session(caller, row, roles=("client", "clinician")))
        if row["status"] != "scheduled":
            raise _conflict(row, "cancel")
        late = schedule.is_late_cancellation(
            row["scheduled_start"], now, late_window=timedelta(hours=settings.late_cancel_hours)
        )
        row = await sessions.update(conn, session_id, status="cancelled", cancelled_at=now, cancelled_by=by, late=late)
        await sessions.clear_timer(conn, session_id=session_id, kind="no-show")
        data = SessionCancelledData(
            **session_fields(row), scheduled_start=row["scheduled_start"], cancelled_at=now, cancelled_by=by, late=late
        )
        await outbox.enqueue(conn, [build(SessionCancelled, client_id=row["client_id"], data=data, at=now)])
    return SessionView.of(row)


@router.post("/{session_id}/start", response_model=SessionView)
async def start_session(
    session_id: str, caller: CallerDep, pool: PoolDep, clock: ClockDep, consent: ConsentDep, settings: SettingsDep
) -> Any:
    """Go live (clinician or service role). Needs the client's ``telehealth-treatment`` consent."""
    async with pool.acquire() as conn:
        row = await sessions.get(conn, session_id)
    if row is None:
        raise not_found("session")
    authorize_session(caller, row, roles=("clinician", "service"))
    if not await consent.is_active(row["client_id"], scopes.TELEHEALTH):
        raise forbid("consent: the client has no active telehealth-treatment consent; the session cannot start")
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, session_id)
        if row["status"] != "scheduled":
            raise _conflict(row, "start")
        row = await sessions.update(conn, session_id, status="running", started_at=now)
        await sessions.set_timer(
            conn,
            session_id=session_id,
            kind="overrun",
            due_at=schedule.next_overrun_at(row["scheduled_end"], 0, step=timedelta(minutes=settings.overrun_step_min)),
        )
        data = SessionStartedData(**session_fields(row), started_at=now)
        await outbox.enqueue(conn, [build(SessionStarted, client_id=row["client_id"], data=data, at=now)])
    return SessionView.of(row)


@router.post("/{session_id}/join", response_model=SessionView)
async def join_session(
    session_id: str, caller: CallerDep, pool: PoolDep, clock: ClockDep, body: ParticipantRequest | None = None
) -> Any:
    """A participant enters the (waiting) room. Emits ``participant-joined``."""
    return await _presence(session_id, caller, pool, clock, body, joining=True)


@router.post("/{session_id}/leave", response_model=SessionView)
async def leave_session(
    session_id: str, caller: CallerDep, pool: PoolDep, clock: ClockDep, body: ParticipantRequest | None = None
) -> Any:
    """A participant leaves. Emits ``participant-left``."""
    return await _presence(session_id, caller, pool, clock, body, joining=False)


@router.post("/{session_id}/end", response_model=SessionView)
async def end_session(session_id: str, caller: CallerDep, pool: PoolDep, clock: ClockDep) -> Any:
    """End a running session (clinician or service role). Emits ``ended``; stops the overrun timer."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, session_id)
        by = authorize_session(caller, row, roles=("clinician", "service"))
        if row["status"] != "running":
            raise _conflict(row, "end")
        ended_by = row["clinician_id"] if by == "clinician" else "service"
        row = await sessions.update(
            conn,
            session_id,
            status="ended",
            ended_at=now,
            ended_by=ended_by,
            client_present=False,
            clinician_present=False,
        )
        await sessions.clear_timer(conn, session_id=session_id, kind="overrun")
        await sessions.clear_timer(conn, session_id=session_id, kind="no-show")
        data = SessionEndedData(
            **session_fields(row),
            started_at=row["started_at"],
            ended_at=now,
            scheduled_start=row["scheduled_start"],
            scheduled_end=row["scheduled_end"],
            ended_by=ended_by,
        )
        await outbox.enqueue(conn, [build(SessionEnded, client_id=row["client_id"], data=data, at=now)])
    return SessionView.of(row)


@router.post("/{session_id}/recording", response_model=SessionView)
async def start_recording(
    session_id: str, caller: CallerDep, pool: PoolDep, clock: ClockDep, consent: ConsentDep
) -> Any:
    """Start recording a running session. Needs the client's ``session-recording`` consent."""
    async with pool.acquire() as conn:
        row = await sessions.get(conn, session_id)
    if row is None:
        raise not_found("session")
    authorize_session(caller, row, roles=("clinician", "service"))
    if not await consent.is_active(row["client_id"], scopes.RECORDING):
        raise forbid("consent: the client has no active session-recording consent; recording cannot start")
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, session_id)
        if row["status"] != "running":
            raise _conflict(row, "record")
        if row["recording_started_at"] is not None:
            raise HTTPException(409, "recording: already started")
        row = await sessions.update(conn, session_id, recording_started_at=now)
        data = RecordingStartedData(**session_fields(row), started_at=now)
        await outbox.enqueue(conn, [build(RecordingStarted, client_id=row["client_id"], data=data, at=now)])
    return SessionView.of(row)


async def _locked(conn: Any, session_id: str) -> Any:
    row = await sessions.get(conn, session_id, for_update=True)
    if row is None:
        raise not_found("session")
    return row


async def _arm_no_show(conn: Any, row: Any, after_min: int) -> None:
    due = schedule.no_show_due_at(row["scheduled_start"], grace=timedelta(minutes=after_min))
    await sessions.set_timer(conn, session_id=row["session_id"], kind="no-show", due_at=due)


def _scheduled_event(row: Any, now: Any) -> SessionScheduled:
    data = SessionScheduledData(
        **session_fields(row),
        scheduled_start=row["scheduled_start"],
        scheduled_end=row["scheduled_end"],
        modality=row["modality"],
    )
    return build(SessionScheduled, client_id=row["client_id"], data=data, at=now)


async def _presence(
    session_id: str, caller: Any, pool: Any, clock: Any, body: ParticipantRequest | None, *, joining: bool
) -> Any:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, session_id)
        who = authorize_session(caller, row, roles=("client", "clinician", "service"))
        requested = body.participant if body is not None else None
        if who == "service":
            if requested is None:
                raise HTTPException(422, "participant: required when the service role acts for a participant")
            who = requested
        elif requested not in (None, who):
            raise forbid("participant: you can only join or leave as yourself")
        allowed = ("scheduled", "running") if joining else ("running", "scheduled")
        if row["status"] not in allowed:
            raise _conflict(row, "join" if joining else "leave")
        present_column = f"{who}_present"
        if row[present_column] == joining:
            raise HTTPException(409, f"participant: {who} is {'already' if joining else 'not'} in the session")
        changes: dict[str, Any] = {present_column: joining}
        if joining and who == "client" and row["client_joined_at"] is None:
            changes["client_joined_at"] = now
        row = await sessions.update(conn, session_id, **changes)
        event_cls = ParticipantJoined if joining else ParticipantLeft
        # "service" was replaced by the requested participant above; any other caller is client or clinician
        data = ParticipantData(**session_fields(row), participant=cast(Participant, who), at=now)
        await outbox.enqueue(conn, [build(event_cls, client_id=row["client_id"], data=data, at=now)])
    return SessionView.of(row)
