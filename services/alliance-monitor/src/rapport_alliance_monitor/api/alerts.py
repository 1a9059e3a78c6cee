"""Alerts: query (audience-routed), detail with evidence and history, acknowledge and resolve with a note."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import JSONResponse

from rapport_alliance_monitor import events as alert_events
from rapport_alliance_monitor.api.access import ALERT_ROLES, can_see
from rapport_alliance_monitor.api.deps import PoolDep
from rapport_alliance_monitor.api.models import (
    AcknowledgeBody,
    AlertCount,
    AlertCounts,
    AlertDetail,
    AlertList,
    AlertView,
    HistoryEntry,
    ResolveBody,
)
from rapport_alliance_monitor.metrics import ALERTS_RESOLVED
from rapport_alliance_monitor.store import alerts, states
from rapport_common.auth import Principal, require_roles
from rapport_common.db import idempotency, outbox
from rapport_common.events.alerts import RuleId
from rapport_common.service import ClockDep
from rapport_common.telemetry import current_traceparent

router = APIRouter(tags=["alerts"])

AlertReader = Annotated[Principal, Depends(require_roles(*ALERT_ROLES))]
Operator = Annotated[Principal, Depends(require_roles("operator"))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Status = Literal["open", "acknowledged", "resolved"]


@router.get("/alerts", response_model=AlertList)
async def list_alerts(
    principal: AlertReader,
    pool: PoolDep,
    client_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: Status | None = None,
    rule: RuleId | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    """The alerts the caller may see (see ``access``), newest first, filtered by client/status/rule/time."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"query.{name}: must include a timezone offset")
    rows = await alerts.search(
        pool,
        role=principal.role,
        subject=principal.subject,
        client_id=client_id,
        status=status,
        rule=rule,
        since=since,
        until=until,
        limit=limit,
    )
    return AlertList(alerts=[AlertView.of(row) for row in rows])


@router.get("/alerts/counts", response_model=AlertCounts)
async def alert_counts(principal: Operator, pool: PoolDep) -> AlertCounts:
    """Counts by rule, severity and status for operators: no client or clinician data."""
    return AlertCounts(counts=[AlertCount(**dict(row)) for row in await alerts.counts(pool)])


def _visible(row: Any, principal: Principal) -> Any:
    if row is None:
        raise HTTPException(404, "alert_id: no such alert")
    if not can_see(
        principal, clinician_id=row["clinician_id"], audience=row["audience"], supervisor_id=row["supervisor_id"]
    ):
        raise HTTPException(403, "alert_id: this alert is not addressed to you")
    return row


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
async def get_alert(alert_id: str, principal: AlertReader, pool: PoolDep) -> AlertDetail:
    row = await alerts.get(pool, alert_id)
    _visible(row, principal)
    history = [HistoryEntry(**dict(h)) for h in await alerts.history(pool, alert_id)]
    return AlertDetail(**AlertView.of(row).model_dump(), history=history)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertView)
async def acknowledge(
    alert_id: str,
    body: AcknowledgeBody,
    principal: AlertReader,
    pool: PoolDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> Any:
    return await _act(pool, alert_id, principal, "acknowledge", body.note, body.model_dump(), key, now=clock.now())


@router.post("/alerts/{alert_id}/resolve", response_model=AlertView)
async def resolve(
    alert_id: str,
    body: ResolveBody,
    principal: AlertReader,
    pool: PoolDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> Any:
    return await _act(pool, alert_id, principal, "resolve", body.note, body.model_dump(), key, now=clock.now())


async def _act(
    pool: Any,
    alert_id: str,
    principal: Principal,
    action: str,
    note: str | None,
    body: dict[str, Any],
    key: str | None,
    *,
    now: datetime,
) -> Any:
    """Acknowledge or resolve in one transaction: alert, history, pair state (resolve) and outbox event."""
    resolved_rule = None
    async with pool.acquire() as conn, conn.transaction():
        scope = f"{idempotency.caller_scope(f'alert-{action}', principal)}:{alert_id}"
        earlier = await idempotency.replay(conn, scope=scope, key=key, body=body)
        if earlier is not None:
            return JSONResponse(earlier.response, status_code=earlier.status_code)
        row = _visible(await alerts.get(conn, alert_id), principal)
        await states.lock_clients(conn, [row["client_id"]])
        row = _visible(await alerts.get(conn, alert_id, for_update=True), principal)
        if row["status"] == "resolved":
            raise HTTPException(409, "alert_id: the alert is already resolved")
        trace = current_traceparent()
        await alerts.lock_history(conn)
        if action == "acknowledge":
            if row["status"] == "acknowledged":
                raise HTTPException(409, "alert_id: the alert is already acknowledged")
            await alerts.acknowledge(conn, alert_id, by=principal.subject, at=now)
            event: Any = alert_events.acknowledged(
                alert_id=alert_id,
                client_id=row["client_id"],
                by=principal.subject,
                at=now,
                note=note,
                traceparent=trace,
            )
        else:
            assert note is not None
            await alerts.resolve(conn, alert_id, by=principal.subject, at=now, reason=note)
            await _close_in_pair(conn, row)
            event = alert_events.resolved(
                alert_id=alert_id,
                client_id=row["client_id"],
                by=principal.subject,
                at=now,
                reason=note,
                traceparent=trace,
            )
            resolved_rule = row["rule"]
        await alerts.append_history(conn, alert_id, action=f"{action}d", by=principal.subject, at=now, note=note)
        await outbox.enqueue(conn, [event])
        result = AlertView.of(await alerts.get(conn, alert_id)).model_dump(mode="json")
        await idempotency.remember(conn, scope=scope, key=key, body=body, status_code=200, response=result)
    if resolved_rule is not None:
        ALERTS_RESOLVED.labels(resolved_rule).inc()
    return result


async def _close_in_pair(conn: Any, row: Any) -> None:
    """A condition alert resolved by a person: the pair forgets it, so the next episode raises anew."""
    key = (row["client_id"], row["clinician_id"])
    pair = (await states.load_pairs(conn, [key])).get(key)
    if pair is not None and any(a.alert_id == row["alert_id"] for a in pair.open_alerts):
        await states.save_pairs(conn, [pair.close_alert(row["alert_id"])])
