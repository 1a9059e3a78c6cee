"""Expiring consents whose validity ended: an expiry row, `rapport.consent.expired` and a ledger entry each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapport_common.application.unit_of_work import UnitOfWork
from rapport_consent import events
from rapport_consent.store import consents as store
from rapport_consent.store import ledger

#: the ledger's actor for expiries: no person expires a consent, time does
JOB_ACTOR = "consent-expiry-job"


@dataclass(frozen=True, slots=True)
class ExpiredBatch:
    #: consents this unit of work recorded as expired
    expired: int
    #: the batch was full: more may be due
    full: bool


async def expire_due_consents(uow: UnitOfWork, *, limit: int) -> ExpiredBatch:
    """Record up to ``limit`` consents due at ``uow.now`` as expired.

    Two instances may pick the same due consents; the expiry rows decide which one records each, and only
    that one publishes and ledgers it."""
    due = await store.due_expiries(uow.conn, uow.now, limit)
    if not due:
        return ExpiredBatch(expired=0, full=False)
    mine = await store.insert_expiries(uow.conn, [(row["consent_id"], row["valid_until"]) for row in due], uow.now)
    rows = [row for row in due if row["consent_id"] in mine]
    await uow.publish(
        *(events.expired(row["consent_id"], row["client_id"], row["scope"], row["valid_until"]) for row in rows)
    )
    await ledger.append(uow.conn, [_expired_entry(row) for row in rows])  # last: see use_cases
    return ExpiredBatch(expired=len(rows), full=len(due) == limit)


def _expired_entry(row: dict[str, Any]) -> ledger.NewEntry:
    return ledger.NewEntry(
        actor_id=JOB_ACTOR,
        actor_role="system",
        action="consent.expired",
        channel="expiry-job",
        client_id=row["client_id"],
        scope=row["scope"],
        consent_id=row["consent_id"],
        reason="validity ended",
        details={"expired_at": row["valid_until"]},
    )
