"""What compliance reads: ledger search, chain verification, CSV and FHIR exports. Each read is ledgered
first (:mod:`rapport_consent.audit`): one that could not be recorded is not served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import asyncpg

from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_consent.audit import record_read
from rapport_consent.domain.ledger import ChainWalk
from rapport_consent.export import csv as csv_export
from rapport_consent.export import fhir
from rapport_consent.schemas import LedgerFilters, LedgerPage, ledger_entry_out
from rapport_consent.store import consents as store
from rapport_consent.store import ledger


async def search_ledger(
    transactions: Transactions, *, principal: Principal, page: LedgerPage, page_max: int, request_id: str
) -> dict[str, Any]:
    """Entries matching every given filter, in chain order; ``next_after_seq`` pages on (None at the end)."""
    query = page.query()
    limit = min(page.limit, page_max)
    await _record(transactions, principal, "ledger-search", page, request_id, {"limit": page.limit})
    entries = await ledger.search(transactions.pool, query, limit + 1)  # one more tells whether a page follows
    more = len(entries) > limit
    entries = entries[:limit]
    return {
        "entries": [ledger_entry_out(entry) for entry in entries],
        "next_after_seq": entries[-1]["seq"] if more else None,
    }


async def verify_ledger(transactions: Transactions, *, principal: Principal, request_id: str) -> dict[str, Any]:
    """Walk the whole chain from the first entry; report the first broken link (or ok)."""
    await record_read(transactions, principal, what="ledger-verify", request_id=request_id)
    walk = ChainWalk()
    async for batch in ledger.scan(transactions.pool, ledger.LedgerQuery()):
        if not walk.feed(batch):
            break
    return {
        "ok": walk.broken is None,
        "checked": walk.checked,
        "head": {"seq": walk.last_seq, "hash": walk.last_hash},
        "first_broken": asdict(walk.broken) if walk.broken else None,
    }


async def export_ledger_csv(
    transactions: Transactions, *, principal: Principal, filters: LedgerFilters, request_id: str
) -> AsyncIterator[str]:
    """The matching entries as CSV text, header first, read in batches while the caller streams them."""
    query = filters.query()
    await _record(transactions, principal, "export-csv", filters, request_id)
    return _csv_text(transactions.pool, query)


async def _csv_text(pool: asyncpg.Pool, query: ledger.LedgerQuery) -> AsyncIterator[str]:
    yield csv_export.header_line()
    async for batch in ledger.scan(pool, query):
        yield csv_export.rows_text(batch)


async def export_fhir(
    transactions: Transactions, *, principal: Principal, filters: LedgerFilters, request_id: str
) -> str:
    """A FHIR R4B ``collection`` Bundle (JSON): ``Consent`` for the client's consents (or for consents the
    selected entries mention) and an ``AuditEvent`` per selected ledger entry."""
    query = filters.query()
    await _record(transactions, principal, "export-fhir", filters, request_id)
    now = transactions.clock.now()
    entries: list[dict[str, Any]] = []
    async for batch in ledger.scan(transactions.pool, query):
        entries.extend(batch)
    rows = await _exported_consents(transactions.pool, filters, entries)
    bundle = fhir.bundle(
        [fhir.consent_resource(row, now) for row in rows], [fhir.audit_event_resource(e) for e in entries], now
    )
    return bundle.model_dump_json(exclude_none=True)


async def _exported_consents(
    pool: asyncpg.Pool, filters: LedgerFilters, entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The client's consents when a client is named, else those the entries mention (first mention first);
    only the filtered scope's."""
    if filters.client_id is not None:
        rows = await store.client_consents(pool, filters.client_id)
    else:
        rows = []
        for consent_id in dict.fromkeys(entry["consent_id"] for entry in entries if entry["consent_id"]):
            row = await store.consent(pool, consent_id)
            if row is not None:
                rows.append(row)
    return [row for row in rows if filters.scope is None or row["scope"] == filters.scope]


async def _record(
    transactions: Transactions,
    principal: Principal,
    what: str,
    filters: LedgerFilters,
    request_id: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Ledger a filtered compliance read, with the filters it was asked with."""
    await record_read(
        transactions,
        principal,
        what=what,
        request_id=request_id,
        client_id=filters.client_id,
        scope=filters.scope,
        filters={**filters.for_ledger(), **(extra or {})},
    )
