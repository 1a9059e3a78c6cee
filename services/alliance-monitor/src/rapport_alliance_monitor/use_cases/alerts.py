"""Alerts as people use them: search, detail, counts, and acknowledging or resolving one with a note.

Who may see (and act on) an alert is :func:`rapport_alliance_monitor.domain.visibility.visibility_of`; an
alert the caller may not see is refused with 403 once it is known to exist (404 otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from rapport_alliance_monitor import events as alert_events
from rapport_alliance_monitor.api.models import AlertCount, AlertDetail, AlertView, HistoryEntry
from rapport_alliance_monitor.domain.visibility import can_see, visibility_of
from rapport_alliance_monitor.store import alerts, states
from rapport_common.application.unit_of_work import Idempotency, Outcome, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.db import idempotency
from rapport_common.events.alerts import RuleId
from rapport_common.events.envelope import CloudEvent
from rapport_common.refusal import Refusal
from rapport_common.telemetry import current_traceparent


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """The narrowing a search asks for (every field optional but the limit)."""

    client_id: str | None = None
    status: str | None = None
    rule: RuleId | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class AlertIdempotency(Idempotency):
    """An action's idempotency on one alert: a key is scoped to the caller *and* the alert, so the same key
    sent for two alerts acts on both."""

    alert_id: str = ""

    @property
    def scope(self) -> str:
        return f"{idempotency.caller_scope(self.action, self.principal)}:{self.alert_id}"


async def search(uow: UnitOfWork, *, principal: Principal, query: AlertQuery) -> list[AlertView]:
    """The alerts the caller may see, newest first; times without an offset are refused (ambiguous)."""
    for name, value in (("since", query.since), ("until", query.until)):
        if value is not None and value.tzinfo is None:
            raise Refusal(422, f"query.{name}", "must include a timezone offset")
    seen_by = visibility_of(principal)
    if seen_by is None:
        return []
    rows = await alerts.search(
        uow.conn,
        seen_by=seen_by,
        client_id=query.client_id,
        status=query.status,
        rule=query.rule,
        since=query.since,
        until=query.until,
        limit=query.limit,
    )
    return [AlertView.of(row) for row in rows]


async def counts(uow: UnitOfWork) -> list[AlertCount]:
    """Counts by rule, severity and status: no client or clinician data, so anyone allowed may have them."""
    return [AlertCount(**dict(row)) for row in await alerts.counts(uow.conn)]


async def detail(uow: UnitOfWork, *, principal: Principal, alert_id: str) -> AlertDetail:
    row = _visible(await alerts.get(uow.conn, alert_id), principal)
    history = [HistoryEntry(**dict(h)) for h in await alerts.history(uow.conn, alert_id)]
    return AlertDetail(**AlertView.of(row).model_dump(), history=history)


async def history_after(uow: UnitOfWork, *, principal: Principal, after: int, limit: int) -> list[dict[str, Any]]:
    """The alert-history rows after id ``after`` the caller may see, oldest first (a stream's catch-up)."""
    seen_by = visibility_of(principal)
    if seen_by is None:
        return []
    return [dict(row) for row in await alerts.history_since(uow.conn, after, limit=limit, seen_by=seen_by)]


async def acknowledge(uow: UnitOfWork, *, principal: Principal, alert_id: str, note: str | None) -> Outcome:
    """An open alert seen by a person: ``alert-acknowledged`` (a resolved or acknowledged one is a 409)."""
    row = await _lock_for_action(uow, principal, alert_id)
    if row["status"] == "acknowledged":
        raise Refusal(409, "alert_id", "the alert is already acknowledged")
    by = principal.subject
    await alerts.acknowledge(uow.conn, alert_id, by=by, at=uow.now)
    event = alert_events.acknowledged(
        alert_id=alert_id, client_id=row["client_id"], by=by, at=uow.now, note=note, traceparent=current_traceparent()
    )
    return await _record(uow, row, action="acknowledged", by=by, note=note, event=event)


async def resolve(uow: UnitOfWork, *, principal: Principal, alert_id: str, note: str) -> Outcome:
    """A person resolves an alert: ``alert-resolved``; a condition alert's pair forgets it, so the next
    episode of the condition raises a new alert."""
    row = await _lock_for_action(uow, principal, alert_id)
    by = principal.subject
    await alerts.resolve(uow.conn, alert_id, by=by, at=uow.now, reason=note)
    await _close_in_pair(uow.conn, row)
    event = alert_events.resolved(
        alert_id=alert_id, client_id=row["client_id"], by=by, at=uow.now, reason=note, traceparent=current_traceparent()
    )
    return await _record(uow, row, action="resolved", by=by, note=note, event=event)


# -- steps --------------------------------------------------------------------------------------------------


def _visible(row: asyncpg.Record | None, principal: Principal) -> asyncpg.Record:
    if row is None:
        raise Refusal(404, "alert_id", "no such alert")
    if not can_see(principal, row):
        raise Refusal(403, "alert_id", "this alert is not addressed to you")
    return row


async def _lock_for_action(uow: UnitOfWork, principal: Principal, alert_id: str) -> asyncpg.Record:
    """The alert, checked and locked the way the consumer locks: its client first, then the alert row, then
    the history order (a resolved alert takes no further action)."""
    row = _visible(await alerts.get(uow.conn, alert_id), principal)
    await states.lock_clients(uow.conn, [row["client_id"]])
    row = _visible(await alerts.get(uow.conn, alert_id, for_update=True), principal)
    if row["status"] == "resolved":
        raise Refusal(409, "alert_id", "the alert is already resolved")
    await alerts.lock_history(uow.conn)
    return row


async def _record(
    uow: UnitOfWork, row: asyncpg.Record, *, action: str, by: str, note: str | None, event: CloudEvent[Any]
) -> Outcome:
    """The action's history row and event, and the alert as it now is (the command's answer)."""
    alert_id = row["alert_id"]
    await alerts.append_history(uow.conn, alert_id, action=action, by=by, at=uow.now, note=note)
    await uow.publish(event)
    return Outcome(200, AlertView.of(await alerts.get(uow.conn, alert_id)).model_dump(mode="json"))


async def _close_in_pair(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    """A condition alert resolved by a person: the pair forgets it, so the next episode raises anew."""
    key = (row["client_id"], row["clinician_id"])
    pair = (await states.load_pairs(conn, [key])).get(key)
    if pair is not None and any(a.alert_id == row["alert_id"] for a in pair.open_alerts):
        await states.save_pairs(conn, [pair.close_alert(row["alert_id"])])
