"""The session timers falling due: no-show checks and overrun reports.

Timers are rows written in the unit of work that scheduled or started the session, so a restart loses
nothing: the next run finds whatever fell due meanwhile and catches up (an overrun that passed several
marks while the service was down reports each missed mark once, at the mark's time). Due timers are
claimed with ``FOR UPDATE SKIP LOCKED``, so several instances can fire them without firing anything twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import Counter

from rapport_common.application.unit_of_work import UnitOfWork
from rapport_common.events.session import NoShowData, OverrunData, SessionNoShow, SessionOverrun
from rapport_session.domain import lifecycle, schedule
from rapport_session.events import build, session_fields
from rapport_session.store import sessions
from rapport_session.store.sessions import Row

TIMERS_FIRED = Counter("rapport_session_timers_fired_total", "Timers fired by kind and outcome", ["kind", "outcome"])


async def fire_due_timers(uow: UnitOfWork, *, overrun_step: timedelta, limit: int) -> int:
    """Fire up to ``limit`` timers due at ``uow.now``; returns how many were claimed (fewer than ``limit``:
    nothing more is due)."""
    due = await sessions.claim_due_timers(uow.conn, now=uow.now, limit=limit)
    for timer in due:
        if timer["kind"] == "no-show":
            await _no_show(uow, timer)
        else:
            await _overrun(uow, timer, overrun_step)
    return len(due)


async def _no_show(uow: UnitOfWork, timer: Row) -> None:
    """The client has not joined by the due time: mark the session a no-show (once), at the due time."""
    await sessions.clear_timer(uow.conn, session_id=timer["session_id"], kind="no-show")
    if timer["client_joined_at"] is not None or not lifecycle.allows("mark-no-show", timer["status"]):
        TIMERS_FIRED.labels("no-show", "client-attended").inc()
        return
    changes: dict[str, Any] = {"no_show_at": timer["due_at"]}
    status = lifecycle.next_status("mark-no-show", timer["status"])
    if status != timer["status"]:
        changes["status"] = status
    row = await sessions.update(uow.conn, timer["session_id"], **changes)
    data = NoShowData(**session_fields(row), scheduled_start=row["scheduled_start"])
    await uow.publish(build(SessionNoShow, client_id=row["client_id"], data=data, at=timer["due_at"]))
    TIMERS_FIRED.labels("no-show", "no-show").inc()


async def _overrun(uow: UnitOfWork, timer: Row, step: timedelta) -> None:
    """Report every overrun mark passed since the last one, then re-arm for the next mark."""
    if not lifecycle.allows("report-overrun", timer["status"]):
        await sessions.clear_timer(uow.conn, session_id=timer["session_id"], kind="overrun")
        return
    last = timer["fired"]
    marks = schedule.overrun_marks(timer["scheduled_end"], uow.now, step=step, last_emitted_minutes=last)
    if marks:
        await uow.publish(*(_overrun_event(timer, minutes) for minutes in marks))
        last = marks[-1]
        TIMERS_FIRED.labels("overrun", "reported").inc(len(marks))
    await sessions.set_timer(
        uow.conn,
        session_id=timer["session_id"],
        kind="overrun",
        due_at=schedule.next_overrun_at(timer["scheduled_end"], last, step=step),
        fired=last,
    )


def _overrun_event(timer: Row, minutes: int) -> SessionOverrun:
    """The report of one overrun mark, dated at the mark (not when it was noticed)."""
    data = OverrunData(**session_fields(timer), scheduled_end=timer["scheduled_end"], minutes_over=minutes)
    return build(
        SessionOverrun, client_id=timer["client_id"], data=data, at=timer["scheduled_end"] + timedelta(minutes=minutes)
    )
