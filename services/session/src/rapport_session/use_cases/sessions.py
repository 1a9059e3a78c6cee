"""The session aggregate: schedule, read, reschedule, cancel, start, join, leave, end, record.

Every state change and its event are written in one unit of work (outbox). Which change is allowed from
which status is ``domain.lifecycle``. Timers for the no-show check and the overrun reports are rows in
``session_timers`` written in the same transaction, so they survive restarts; the timer job fires them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from rapport_common.application.unit_of_work import Outcome, Transactions, UnitOfWork
from rapport_common.auth import Principal
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
from rapport_common.refusal import Refusal
from rapport_session import consent_client as scopes
from rapport_session.consent_client import ConsentClient
from rapport_session.domain import lifecycle, schedule
from rapport_session.events import build, session_fields
from rapport_session.models import RescheduleRequest, ScheduleRequest, SessionView
from rapport_session.settings import SessionSettings
from rapport_session.store import sessions
from rapport_session.store.sessions import Row
from rapport_session.use_cases.access import (
    assigned_clinician,
    party,
    require_consent,
    require_current_assignment,
    session_row,
)


async def schedule_session(
    uow: UnitOfWork, *, principal: Principal, request: ScheduleRequest, settings: SessionSettings
) -> Outcome:
    """Book a session (clinician for an assigned client, or the service role). Emits ``scheduled``."""
    if principal.role not in ("clinician", "service"):
        raise Refusal(403, "role", f"{principal.role!r} may not schedule sessions")
    _check_future(request.scheduled_start, uow.now)
    clinician_id = await assigned_clinician(uow.conn, principal, client_id=request.client_id)
    session_id = request.session_id or str(uuid.uuid4())
    if await sessions.get(uow.conn, session_id) is not None:
        raise Refusal(409, "session_id", "already exists")
    row = await sessions.insert(
        uow.conn,
        session_id=session_id,
        client_id=request.client_id,
        clinician_id=clinician_id,
        modality=request.modality,
        scheduled_start=request.scheduled_start,
        scheduled_end=request.scheduled_end,
    )
    await _arm_no_show(uow, row, settings)
    await uow.publish(_scheduled_event(row, uow.now))
    return Outcome(201, SessionView.of(row).model_dump(mode="json"))


async def get_session(uow: UnitOfWork, *, principal: Principal, session_id: str) -> SessionView:
    row = await session_row(uow.conn, session_id)
    party(principal, row, roles=("client", "clinician", "service"))
    return SessionView.of(row)


async def list_sessions(uow: UnitOfWork, *, principal: Principal, client_id: str | None) -> list[SessionView]:
    """A client's own sessions, or a clinician's (optionally for one assigned client), or one client's for
    the service role."""
    if principal.role == "client":
        if client_id not in (None, principal.subject):
            raise Refusal(403, "client_id", "a client sees only their own sessions")
        rows = await sessions.list_for(uow.conn, client_id=principal.subject)
    elif principal.role == "clinician":
        rows = await sessions.list_for(uow.conn, client_id=client_id, clinician_id=principal.subject)
    elif principal.role == "service":
        if client_id is None:
            raise Refusal(422, "client_id", "required for the service role")
        rows = await sessions.list_for(uow.conn, client_id=client_id)
    else:
        raise Refusal(403, "role", f"{principal.role!r} may not list sessions")
    return [SessionView.of(row) for row in rows]


async def reschedule_session(
    uow: UnitOfWork, *, principal: Principal, session_id: str, request: RescheduleRequest, settings: SessionSettings
) -> SessionView:
    """Move a scheduled session. Emits ``scheduled`` again for the same ``session_id`` with the new times."""
    _check_future(request.scheduled_start, uow.now)
    row = await session_row(uow.conn, session_id, for_update=True)
    party(principal, row, roles=("client", "clinician"))
    lifecycle.next_status("reschedule", row["status"])
    row = await sessions.update(
        uow.conn, session_id, scheduled_start=request.scheduled_start, scheduled_end=request.scheduled_end
    )
    await _arm_no_show(uow, row, settings)
    await uow.publish(_scheduled_event(row, uow.now))
    return SessionView.of(row)


async def cancel_session(
    uow: UnitOfWork, *, principal: Principal, session_id: str, settings: SessionSettings
) -> SessionView:
    """Cancel a scheduled session; the service decides whether it is late. Emits ``cancelled``."""
    now = uow.now
    row = await session_row(uow.conn, session_id, for_update=True)
    # with only these roles allowed, the caller is the session's client or its clinician
    by = cast(Participant, party(principal, row, roles=("client", "clinician")))
    status = lifecycle.next_status("cancel", row["status"])
    late = schedule.is_late_cancellation(
        row["scheduled_start"], now, late_window=timedelta(hours=settings.late_cancel_hours)
    )
    row = await sessions.update(uow.conn, session_id, status=status, cancelled_at=now, cancelled_by=by, late=late)
    await sessions.clear_timer(uow.conn, session_id=session_id, kind="no-show")
    data = SessionCancelledData(
        **session_fields(row), scheduled_start=row["scheduled_start"], cancelled_at=now, cancelled_by=by, late=late
    )
    await uow.publish(build(SessionCancelled, client_id=row["client_id"], data=data, at=now))
    return SessionView.of(row)


async def start_session(
    transactions: Transactions,
    *,
    principal: Principal,
    session_id: str,
    consent: ConsentClient,
    settings: SessionSettings,
) -> SessionView:
    """Go live (clinician or service role, and only while the session's clinician is the client's clinician
    of record). Needs the client's ``telehealth-treatment`` consent; arms the overrun timer. Emits ``started``."""
    await _require_consented(
        transactions,
        principal=principal,
        session_id=session_id,
        consent=consent,
        scope=scopes.TELEHEALTH,
        refusal="the client has no active telehealth-treatment consent; the session cannot start",
    )
    async with transactions.begin() as uow:
        row = await session_row(uow.conn, session_id, for_update=True)
        await require_current_assignment(uow.conn, principal, row)  # again: a reassignment may have landed
        status = lifecycle.next_status("start", row["status"])
        row = await sessions.update(uow.conn, session_id, status=status, started_at=uow.now)
        step = timedelta(minutes=settings.overrun_step_min)
        due = schedule.next_overrun_at(row["scheduled_end"], 0, step=step)
        await sessions.set_timer(uow.conn, session_id=session_id, kind="overrun", due_at=due)
        data = SessionStartedData(**session_fields(row), started_at=uow.now)
        await uow.publish(build(SessionStarted, client_id=row["client_id"], data=data, at=uow.now))
    return SessionView.of(row)


async def join_session(
    uow: UnitOfWork, *, principal: Principal, session_id: str, participant: Participant | None
) -> SessionView:
    """A participant enters the (waiting) room. Emits ``participant-joined``."""
    return await _presence(uow, principal=principal, session_id=session_id, participant=participant, joining=True)


async def leave_session(
    uow: UnitOfWork, *, principal: Principal, session_id: str, participant: Participant | None
) -> SessionView:
    """A participant leaves. Emits ``participant-left``."""
    return await _presence(uow, principal=principal, session_id=session_id, participant=participant, joining=False)


async def end_session(uow: UnitOfWork, *, principal: Principal, session_id: str) -> SessionView:
    """End a running session (clinician or service role). Emits ``ended``; stops the session's timers."""
    now = uow.now
    row = await session_row(uow.conn, session_id, for_update=True)
    by = party(principal, row, roles=("clinician", "service"))
    status = lifecycle.next_status("end", row["status"])
    ended_by = row["clinician_id"] if by == "clinician" else "service"
    row = await sessions.update(
        uow.conn,
        session_id,
        status=status,
        ended_at=now,
        ended_by=ended_by,
        client_present=False,
        clinician_present=False,
    )
    await sessions.clear_timer(uow.conn, session_id=session_id, kind="overrun")
    await sessions.clear_timer(uow.conn, session_id=session_id, kind="no-show")
    data = SessionEndedData(
        **session_fields(row),
        started_at=row["started_at"],
        ended_at=now,
        scheduled_start=row["scheduled_start"],
        scheduled_end=row["scheduled_end"],
        ended_by=ended_by,
    )
    await uow.publish(build(SessionEnded, client_id=row["client_id"], data=data, at=now))
    return SessionView.of(row)


async def start_recording(
    transactions: Transactions, *, principal: Principal, session_id: str, consent: ConsentClient
) -> SessionView:
    """Start recording a running session. Needs the client's ``session-recording`` consent."""
    await _require_consented(
        transactions,
        principal=principal,
        session_id=session_id,
        consent=consent,
        scope=scopes.RECORDING,
        refusal="the client has no active session-recording consent; recording cannot start",
    )
    async with transactions.begin() as uow:
        row = await session_row(uow.conn, session_id, for_update=True)
        await require_current_assignment(uow.conn, principal, row)  # again: a reassignment may have landed
        lifecycle.next_status("record", row["status"])
        if row["recording_started_at"] is not None:
            raise Refusal(409, "recording", "already started")
        row = await sessions.update(uow.conn, session_id, recording_started_at=uow.now)
        data = RecordingStartedData(**session_fields(row), started_at=uow.now)
        await uow.publish(build(RecordingStarted, client_id=row["client_id"], data=data, at=uow.now))
    return SessionView.of(row)


async def _require_consented(
    transactions: Transactions,
    *,
    principal: Principal,
    session_id: str,
    consent: ConsentClient,
    scope: str,
    refusal: str,
) -> None:
    """Refuse unless the caller (clinician or service) may act in the session, its clinician is still the
    client's clinician of record, and its client has ``scope``.

    Read without a lock: the consent question may go over the network, and the status and assignment are
    checked again under the lock when the change is made. The assignment is checked before the consent, so
    a former clinician does not learn the client's consents from the refusal."""
    async with transactions.begin() as uow:
        row = await session_row(uow.conn, session_id)
        party(principal, row, roles=("clinician", "service"))
        await require_current_assignment(uow.conn, principal, row)
    await require_consent(consent, client_id=row["client_id"], scope=scope, refusal=refusal)


async def _presence(
    uow: UnitOfWork, *, principal: Principal, session_id: str, participant: Participant | None, joining: bool
) -> SessionView:
    """Join or leave as oneself (the service role names whom it acts for)."""
    now = uow.now
    row = await session_row(uow.conn, session_id, for_update=True)
    who = _present_as(party(principal, row, roles=("client", "clinician", "service")), participant)
    lifecycle.next_status("join" if joining else "leave", row["status"])
    present_column = f"{who}_present"
    if row[present_column] == joining:
        raise Refusal(409, "participant", f"{who} is {'already' if joining else 'not'} in the session")
    changes: dict[str, Any] = {present_column: joining}
    if joining and who == "client" and row["client_joined_at"] is None:
        changes["client_joined_at"] = now
    row = await sessions.update(uow.conn, session_id, **changes)
    event_cls = ParticipantJoined if joining else ParticipantLeft
    data = ParticipantData(**session_fields(row), participant=who, at=now)
    await uow.publish(build(event_cls, client_id=row["client_id"], data=data, at=now))
    return SessionView.of(row)


def _present_as(caller: str, requested: Participant | None) -> Participant:
    """Whom a join or leave is about: the caller themself, or whom the service role names."""
    if caller == "service":
        if requested is None:
            raise Refusal(422, "participant", "required when the service role acts for a participant")
        return requested
    if requested not in (None, caller):
        raise Refusal(403, "participant", "you can only join or leave as yourself")
    return cast(Participant, caller)  # not the service role: the session's client or its clinician


def _check_future(scheduled_start: datetime, now: datetime) -> None:
    if scheduled_start <= now:
        raise Refusal(422, "scheduled_start", "must be in the future")


async def _arm_no_show(uow: UnitOfWork, row: Row, settings: SessionSettings) -> None:
    due = schedule.no_show_due_at(row["scheduled_start"], grace=timedelta(minutes=settings.no_show_after_min))
    await sessions.set_timer(uow.conn, session_id=row["session_id"], kind="no-show", due_at=due)


def _scheduled_event(row: Row, now: datetime) -> SessionScheduled:
    data = SessionScheduledData(
        **session_fields(row),
        scheduled_start=row["scheduled_start"],
        scheduled_end=row["scheduled_end"],
        modality=row["modality"],
    )
    return build(SessionScheduled, client_id=row["client_id"], data=data, at=now)
