"""``GET /clients/{client_id}/trend``: the pair's SRS and ORS series with the lines the chart draws."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from rapport_alliance_monitor.api.deps import RulesDep, TransactionsDep
from rapport_alliance_monitor.api.models import TrendView
from rapport_alliance_monitor.use_cases.trend import client_trend as trend_of
from rapport_common.auth import Principal, require_roles

router = APIRouter(tags=["trend"])

Clinician = Annotated[Principal, Depends(require_roles("clinician"))]


@router.get("/clients/{client_id}/trend", response_model=TrendView)
async def client_trend(
    client_id: str, principal: Clinician, transactions: TransactionsDep, rules: RulesDep
) -> TrendView:
    """Clinician of record only (the client's current assignment, from ``clinician-assigned``)."""
    async with transactions.begin() as uow:
        return await trend_of(uow, principal=principal, client_id=client_id, rules=rules)
