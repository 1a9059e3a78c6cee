"""Route of telemetry ingestion (``use_cases.telemetry``): many windows of many sessions per request."""

from __future__ import annotations

from fastapi import APIRouter

from rapport_session.api.deps import CallerDep, ConsentDep, SettingsDep, TransactionsDep
from rapport_session.models import TelemetryBatch, TelemetryResult
from rapport_session.use_cases import telemetry

router = APIRouter(tags=["telemetry"])


@router.post("/telemetry", status_code=202, response_model=TelemetryResult)
async def ingest_telemetry(
    body: TelemetryBatch, caller: CallerDep, transactions: TransactionsDep, consent: ConsentDep, settings: SettingsDep
) -> TelemetryResult:
    """Windows of clients without ``alliance-analytics`` consent are dropped and counted, never stored."""
    return await telemetry.ingest_telemetry(
        transactions, principal=caller, batch=body, consent=consent, settings=settings
    )
