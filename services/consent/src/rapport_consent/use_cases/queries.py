"""Reading consents: one consent, a client's consents at a point in time, the fast check, counts.

Reads run on the pool without a transaction of their own (the check is the service-to-service hot path);
a compliance read is first ledgered in a unit of work of its own, see :mod:`rapport_consent.audit`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from rapport_common.access import check_client_access
from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal, Role
from rapport_common.events.consent import ConsentScope
from rapport_common.projections import intake_view
from rapport_common.refusal import Refusal
from rapport_consent.audit import record_read
from rapport_consent.schemas import consent_out
from rapport_consent.store import consents as store

#: who reads every client's consents: compliance (each read ledgered) and the platform's services
READERS_OF_ALL_CLIENTS: tuple[Role, ...] = ("compliance", "service")


async def read_consent(
    transactions: Transactions, *, principal: Principal, consent_id: str, at: datetime, request_id: str
) -> dict[str, Any]:
    """One consent with its state at ``at`` (404 if unknown, 403 if not the caller's to read)."""
    row = await store.consent(transactions.pool, consent_id)
    if row is None:
        raise Refusal(404, "consent_id", "no such consent")
    await _check_reader(transactions.pool, principal, row["client_id"])
    if principal.role == "compliance":
        await record_read(
            transactions,
            principal,
            what="consent",
            request_id=request_id,
            client_id=row["client_id"],
            scope=row["scope"],
            consent_id=consent_id,
            filters={"at": at},
        )
    return consent_out(row, at)


async def consents_at(
    transactions: Transactions, *, principal: Principal, client_id: str, at: datetime, request_id: str
) -> dict[str, Any]:
    """Which consents (and scopes) were active for the client at ``at``."""
    await _check_reader(transactions.pool, principal, client_id)
    if principal.role == "compliance":
        await record_read(
            transactions,
            principal,
            what="point-in-time",
            request_id=request_id,
            client_id=client_id,
            filters={"at": at},
        )
    views = [consent_out(row, at) for row in await store.client_consents(transactions.pool, client_id)]
    active = sorted({view["scope"] for view in views if view["state"] == "active"})
    return {"client_id": client_id, "at": at.isoformat(), "active_scopes": active, "consents": views}


async def _check_reader(pool: asyncpg.Pool, principal: Principal, client_id: str) -> None:
    """Clients read their own consents, clinicians their assigned clients'; compliance and services all."""
    clinician_of_record = None
    if principal.role == "clinician":  # the only role the decision needs the clinician of record for
        clinician_of_record = (await intake_view.client_facts(pool, client_id)).clinician_id
    check_client_access(
        principal, client_id=client_id, clinician_of_record=clinician_of_record, all_clients=READERS_OF_ALL_CLIENTS
    )


async def check_consent(
    pool: asyncpg.Pool, *, principal: Principal, client_id: str, scope: ConsentScope, at: datetime
) -> dict[str, Any]:
    """Is ``scope`` active for ``client_id`` at ``at``? One indexed query, which also answers who the
    clinician of record is; not ledgered (no consent content beyond the consent id)."""
    clinician_of_record, consent_id, valid_until = await store.check(pool, client_id, scope, at)
    check_client_access(
        principal, client_id=client_id, clinician_of_record=clinician_of_record, all_clients=READERS_OF_ALL_CLIENTS
    )
    return {
        "client_id": client_id,
        "scope": scope,
        "at": at.isoformat(),
        "active": consent_id is not None,
        "consent_id": consent_id,
        "valid_until": valid_until.isoformat() if valid_until else None,
    }


async def active_counts(pool: asyncpg.Pool, *, at: datetime) -> dict[str, Any]:
    """Active consents per scope at ``at``: counts only (no client identifiers), for operators."""
    return {"at": at.isoformat(), "active_by_scope": await store.active_counts(pool, at)}
