"""Compliance routes: ledger search, chain verification, CSV and FHIR exports. Role ``compliance`` only;
each call is itself ledgered (see :mod:`rapport_consent.audit`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from rapport_consent.api.deps import Compliance, RequestIdDep, SettingsDep, TransactionsDep
from rapport_consent.schemas import LedgerFilters, LedgerPage
from rapport_consent.use_cases import compliance

router = APIRouter(prefix="/compliance", tags=["compliance"])

#: unknown query parameters are refused (a misspelt filter must not silently widen an audit query)
FiltersDep = Annotated[LedgerFilters, Query()]
PageDep = Annotated[LedgerPage, Query()]


@router.get("/ledger")
async def search_ledger(
    principal: Compliance, transactions: TransactionsDep, settings: SettingsDep, request_id: RequestIdDep, page: PageDep
) -> dict[str, Any]:
    """Ledger entries matching every given filter, in chain order; page with ``after_seq``."""
    return await compliance.search_ledger(
        transactions, principal=principal, page=page, page_max=settings.compliance_page_max, request_id=request_id
    )


@router.get("/ledger/verify")
async def verify_ledger(
    principal: Compliance, transactions: TransactionsDep, request_id: RequestIdDep
) -> dict[str, Any]:
    """Walk the whole chain from the first entry; report the first broken link (or ok)."""
    return await compliance.verify_ledger(transactions, principal=principal, request_id=request_id)


@router.get("/ledger/export.csv")
async def export_csv(
    principal: Compliance, transactions: TransactionsDep, request_id: RequestIdDep, filters: FiltersDep
) -> StreamingResponse:
    """Matching entries as CSV, streamed in chain order."""
    text = await compliance.export_ledger_csv(transactions, principal=principal, filters=filters, request_id=request_id)
    return StreamingResponse(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="consent-ledger.csv"'},
    )


@router.get("/export/fhir")
async def export_fhir(
    principal: Compliance, transactions: TransactionsDep, request_id: RequestIdDep, filters: FiltersDep
) -> Response:
    """A FHIR R4B ``collection`` Bundle: ``Consent`` for the client's consents (or for consents the
    selected entries mention) and an ``AuditEvent`` per selected ledger entry."""
    bundle = await compliance.export_fhir(transactions, principal=principal, filters=filters, request_id=request_id)
    return Response(bundle, media_type="application/fhir+json")
