"""Background job: expire consents whose validity ended (:mod:`rapport_consent.use_cases.expiries`), one unit
of work per batch, until no full batch is left."""

from __future__ import annotations

import logging

from rapport_common.application.unit_of_work import Transactions
from rapport_common.workers import PollingWorker
from rapport_consent.runtime import ConsentRuntime
from rapport_consent.use_cases.expiries import expire_due_consents

log = logging.getLogger(__name__)


async def expire_due(transactions: Transactions, *, batch: int = 500) -> int:
    """Expire what is due now, batch by batch (each at its unit of work's "now"); how many were expired."""
    total = 0
    while True:
        async with transactions.begin() as uow:
            done = await expire_due_consents(uow, limit=batch)
        total += done.expired
        if not done.full:
            return total


async def _expire_round(runtime: ConsentRuntime) -> None:
    count = await expire_due(runtime.transactions, batch=runtime.settings.consent_expiry_batch)
    if count:
        log.info("consents expired", extra={"count": count})


def expiry_worker(runtime: ConsentRuntime) -> PollingWorker:
    """Expires due consents every ``consent_expiry_interval_s``; database outages are waited out."""
    return PollingWorker(
        "consent-expiry", lambda: _expire_round(runtime), poll_s=runtime.settings.consent_expiry_interval_s
    )
