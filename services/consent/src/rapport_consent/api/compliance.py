"""Compliance routes: ledger search, chain verification, CSV and FHIR exports. Role ``compliance`` only;
each call is itself ledgered (see :mod:`rapport_consent.audit`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rapport_common.events.consent import ConsentScope
from rapport_common.service import ClockDep
from rapport_consent.api.deps import Compliance, PoolDep, RequestIdDep, SettingsDep
from rapport_consent.audit import record_read
from rapport_consent.domain.consent import Refusal
from rapport_consent.domain.ledger import ChainWalk, LedgerAction, canonical_time
from rapport_consent.export import csv as csv_export
from rapport_consent.export import fhir
from rapport_consent.store import consents as store
from rapport_consent.store import ledger

router = APIRouter(prefix="/compliance", tags=["compliance"])


class LedgerFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(default=None, min_length=1, max_length=200)
    scope: ConsentScope | None = None
    actor_id: str | None = Field(default=None, min_length=1, max_length=200)
    action: LedgerAction | None = None
    since: AwareDatetime | None = Field(default=None, description="entries at or after (inclusive)")
    until: AwareDatetime | None = Field(default=None, description="entries before (exclusive)")
    after_seq: int = Field(default=0, ge=0, description="pagination cursor: next_after_seq of the previous page")

    def query(self) -> ledger.LedgerQuery:
        if self.since and self.until and self.until <= self.since:
            raise Refusal(422, "query.until", "must be after since")
        return ledger.LedgerQuery(**self.model_dump(exclude={"limit"}))

    def for_ledger(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


class LedgerPage(LedgerFilters):
    limit: int = Field(default=100, ge=1, le=10_000, description="page size (capped by COMPLIANCE_PAGE_MAX)")


#: unknown query parameters are refused (a misspelt filter must not silently widen an audit query)
FiltersDep = Annotated[LedgerFilters, Query()]
PageDep = Annotated[LedgerPage, Query()]


def _entry_out(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "at": canonical_time(entry["at"]), "details": store.as_json(entry["details"])}


@router.get("/ledger")
async def search_ledger(
    principal: Compliance,
    pool: PoolDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    filters: PageDep,
) -> dict[str, Any]:
    """Ledger entries matching every given filter, in chain order; page with ``after_seq``."""
    query = filters.query()
    limit = min(filters.limit, settings.compliance_page_max)
    await record_read(
        pool,
        principal,
        what="ledger-search",
        request_id=request_id,
        client_id=filters.client_id,
        scope=filters.scope,
        filters={**filters.for_ledger(), "limit": filters.limit},
    )
    entries = await ledger.search(pool, query, limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    return {
        "entries": [_entry_out(entry) for entry in entries],
        "next_after_seq": entries[-1]["seq"] if more else None,
    }


@router.get("/ledger/verify")
async def verify_ledger(principal: Compliance, pool: PoolDep, request_id: RequestIdDep) -> dict[str, Any]:
    """Walk the whole chain from the first entry; report the first broken link (or ok)."""
    await record_read(pool, principal, what="ledger-verify", request_id=request_id)
    walk = ChainWalk()
    async for batch in ledger.scan(pool, ledger.LedgerQuery()):
        if not walk.feed(batch):
            break
    return {
        "ok": walk.broken is None,
        "checked": walk.checked,
        "head": {"seq": walk.last_seq, "hash": walk.last_hash},
        "first_broken": asdict(walk.broken) if walk.broken else None,
    }


@router.get("/ledger/export.csv")
async def export_csv(
    principal: Compliance, pool: PoolDep, request_id: RequestIdDep, filters: FiltersDep
) -> StreamingResponse:
    """Matching entries as CSV, streamed in chain order."""
    query = filters.query()
    await record_read(
        pool,
        principal,
        what="export-csv",
        request_id=request_id,
        client_id=filters.client_id,
        scope=filters.scope,
        filters=filters.for_ledger(),
    )

    async def rows() -> AsyncIterator[str]:
        yield csv_export.header_line()
        async for batch in ledger.scan(pool, query):
            yield csv_export.rows_text(batch)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="consent-ledger.csv"'},
    )


@router.get("/export/fhir")
async def export_fhir(
    principal: Compliance, pool: PoolDep, request_id: RequestIdDep, filters: FiltersDep, clock: ClockDep
) -> Response:
    """A FHIR R4B ``collection`` Bundle: ``Consent`` for the client's consents (or for consents the
    selected entries mention) and an ``AuditEvent`` per selected ledger entry."""
    query = filters.query()
    await record_read(
        pool,
        principal,
        what="export-fhir",
        request_id=request_id,
        client_id=filters.client_id,
        scope=filters.scope,
        filters=filters.for_ledger(),
    )
    now = clock.now()
    entries: list[dict[str, Any]] = []
    async for batch in ledger.scan(pool, query):
        entries.extend(batch)
    if filters.client_id is not None:
        rows = await store.client_consents(pool, filters.client_id)
    else:
        rows = []
        for consent_id in dict.fromkeys(entry["consent_id"] for entry in entries if entry["consent_id"]):
            row = await store.consent(pool, consent_id)
            if row is not None:
                rows.append(row)
    if filters.scope is not None:
        rows = [row for row in rows if row["scope"] == filters.scope]
    bundle = fhir.bundle(
        [fhir.consent_resource(row, now) for row in rows], [fhir.audit_event_resource(e) for e in entries], now
    )
    return Response(bundle.model_dump_json(exclude_none=True), media_type="application/fhir+json")
