"""Alerts: query (audience-routed), detail with evidence and history, acknowledge and resolve with a note.

Each route parses its request, calls one use case of :mod:`rapport_alliance_monitor.use_cases.alerts` and
answers; acknowledge and resolve are idempotent commands (``Idempotency-Key``, scoped to caller and alert).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from rapport_alliance_monitor.api.deps import TransactionsDep
from rapport_alliance_monitor.api.models import (
    AcknowledgeBody,
    AlertCounts,
    AlertDetail,
    AlertList,
    AlertView,
    ResolveBody,
)
from rapport_alliance_monitor.domain.visibility import ALERT_ROLES
from rapport_alliance_monitor.metrics import ALERTS_RESOLVED
from rapport_alliance_monitor.use_cases import alerts
from rapport_alliance_monitor.use_cases.alerts import AlertIdempotency, AlertQuery
from rapport_common.auth import Principal, require_roles
from rapport_common.events.alerts import RuleId
from rapport_common.http import outcome_response
from rapport_common.service import IdempotencyKey

router = APIRouter(tags=["alerts"])

AlertReader = Annotated[Principal, Depends(require_roles(*ALERT_ROLES))]
Operator = Annotated[Principal, Depends(require_roles("operator"))]
Status = Literal["open", "acknowledged", "resolved"]


@router.get("/alerts", response_model=AlertList)
async def list_alerts(
    principal: AlertReader,
    transactions: TransactionsDep,
    client_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: Status | None = None,
    rule: RuleId | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    """The alerts the caller may see (see ``domain.visibility``), newest first, filtered by client/status/rule/time."""
    query = AlertQuery(client_id=client_id, status=status, rule=rule, since=since, until=until, limit=limit)
    async with transactions.begin() as uow:
        return AlertList(alerts=await alerts.search(uow, principal=principal, query=query))


@router.get("/alerts/counts", response_model=AlertCounts)
async def alert_counts(principal: Operator, transactions: TransactionsDep) -> AlertCounts:
    """Counts by rule, severity and status for operators: no client or clinician data."""
    async with transactions.begin() as uow:
        return AlertCounts(counts=await alerts.counts(uow))


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
async def get_alert(alert_id: str, principal: AlertReader, transactions: TransactionsDep) -> AlertDetail:
    async with transactions.begin() as uow:
        return await alerts.detail(uow, principal=principal, alert_id=alert_id)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertView)
async def acknowledge(
    alert_id: str,
    body: AcknowledgeBody,
    principal: AlertReader,
    transactions: TransactionsDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    use_case = partial(alerts.acknowledge, principal=principal, alert_id=alert_id, note=body.note)
    idempotent = AlertIdempotency("alert-acknowledge", principal, key, body.model_dump(), alert_id=alert_id)
    return outcome_response(await transactions.command(use_case, idempotent=idempotent))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertView)
async def resolve(
    alert_id: str,
    body: ResolveBody,
    principal: AlertReader,
    transactions: TransactionsDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    use_case = partial(alerts.resolve, principal=principal, alert_id=alert_id, note=body.note)
    idempotent = AlertIdempotency("alert-resolve", principal, key, body.model_dump(), alert_id=alert_id)
    outcome = await transactions.command(use_case, idempotent=idempotent)
    if not outcome.replayed:  # counted once committed, and once per resolution (not per retry)
        ALERTS_RESOLVED.labels(outcome.body["rule"]).inc()
    return outcome_response(outcome)
