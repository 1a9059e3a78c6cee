"""The timer job: a polling worker that fires due ``session_timers`` (``use_cases.timers``), one unit of
work per batch, until fewer than a batch are due.

Every instance runs it; ``SKIP LOCKED`` in the claim keeps them from firing anything twice.
"""

from __future__ import annotations

from datetime import timedelta

from rapport_common.application.unit_of_work import Transactions
from rapport_common.workers import PollingWorker
from rapport_session.runtime import SessionRuntime
from rapport_session.use_cases.timers import fire_due_timers


async def fire_due(transactions: Transactions, *, overrun_step: timedelta, batch: int = 100) -> int:
    """Fire every timer due now; returns how many timers were handled."""
    handled = 0
    while True:
        async with transactions.begin() as uow:
            fired = await fire_due_timers(uow, overrun_step=overrun_step, limit=batch)
        handled += fired
        if fired < batch:
            return handled


def timer_worker(runtime: SessionRuntime) -> PollingWorker:
    """Polls for due timers until stopped."""
    step = timedelta(minutes=runtime.settings.overrun_step_min)
    return PollingWorker(
        "session-timers",
        lambda: fire_due(runtime.transactions, overrun_step=step),
        poll_s=runtime.settings.timer_poll_interval_s,
    )
