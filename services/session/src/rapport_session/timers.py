"""The timer job: fires due rows of ``session_timers`` (no-show checks, overrun reports).

Timers are rows written in the transaction that scheduled or started the session, so a restart loses
nothing: the next poll after start-up finds whatever fell due meanwhile and catches up (an overrun that
passed several marks while the service was down reports each missed mark once, at the mark's time).
Each due timer is handled in its own transaction with ``FOR UPDATE SKIP LOCKED``, so several instances
can run the job without firing anything twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import asyncpg
from prometheus_client import Counter

from rapport_common.clock import Clock
from rapport_common.db import outbox
from rapport_common.events.session import NoShowData, OverrunData, SessionNoShow, SessionOverrun
from rapport_common.service import ServiceRuntime
from rapport_common.workers import PollingWorker
from rapport_session.domain import schedule
from rapport_session.events import build, session_fields
from rapport_session.store import sessions

log = logging.getLogger(__name__)

TIMERS_FIRED = Counter("rapport_session_timers_fired_total", "Timers fired by kind and outcome", ["kind", "outcome"])


async def fire_due(pool: asyncpg.Pool, clock: Clock, *, overrun_step: timedelta, batch: int = 100) -> int:
    """Fire every timer due now; returns how many timers were handled."""
    handled = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            now = clock.now()
            due = await sessions.claim_due_timers(conn, now=now, limit=batch)
            for timer in due:
                if timer["kind"] == "no-show":
                    await _no_show(conn, timer, now)
                else:
                    await _overrun(conn, timer, now, overrun_step)
        handled += len(due)
        if len(due) < batch:
            return handled


async def _no_show(conn: asyncpg.Connection, timer: Any, now: Any) -> None:
    """The client has not joined by the due time: mark the session a no-show (once)."""
    await sessions.clear_timer(conn, session_id=timer["session_id"], kind="no-show")
    if timer["client_joined_at"] is not None or timer["status"] not in ("scheduled", "running"):
        TIMERS_FIRED.labels("no-show", "client-attended").inc()
        return
    changes: dict[str, Any] = {"no_show_at": timer["due_at"]}
    if timer["status"] == "scheduled":  # a running session (clinician waiting) stays open for the clinician to end
        changes["status"] = "no-show"
    row = await sessions.update(conn, timer["session_id"], **changes)
    data = NoShowData(**session_fields(row), scheduled_start=row["scheduled_start"])
    await outbox.enqueue(conn, [build(SessionNoShow, client_id=row["client_id"], data=data, at=timer["due_at"])])
    TIMERS_FIRED.labels("no-show", "no-show").inc()


async def _overrun(conn: asyncpg.Connection, timer: Any, now: Any, step: timedelta) -> None:
    """Report every overrun mark passed since the last one, then re-arm for the next mark."""
    if timer["status"] != "running":
        await sessions.clear_timer(conn, session_id=timer["session_id"], kind="overrun")
        return
    last = timer["fired"]
    marks = schedule.overrun_marks(timer["scheduled_end"], now, step=step, last_emitted_minutes=last)
    events = [
        build(
            SessionOverrun,
            client_id=timer["client_id"],
            data=OverrunData(**session_fields(timer), scheduled_end=timer["scheduled_end"], minutes_over=minutes),
            at=timer["scheduled_end"] + timedelta(minutes=minutes),
        )
        for minutes in marks
    ]
    if events:
        await outbox.enqueue(conn, events)
        last = marks[-1]
        TIMERS_FIRED.labels("overrun", "reported").inc(len(events))
    await sessions.set_timer(
        conn,
        session_id=timer["session_id"],
        kind="overrun",
        due_at=schedule.next_overrun_at(timer["scheduled_end"], last, step=step),
        fired=last,
    )


def timer_worker(runtime: ServiceRuntime) -> PollingWorker:
    """Polls for due timers until stopped (every instance; ``SKIP LOCKED`` keeps them from firing twice)."""
    settings = runtime.settings
    clock = runtime.clock
    step = timedelta(minutes=settings.overrun_step_min)
    return PollingWorker(
        "session-timers",
        lambda: fire_due(runtime.pool, clock, overrun_step=step),
        poll_s=settings.timer_poll_interval_s,
    )
