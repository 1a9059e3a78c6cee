"""``GET /alerts/stream``: the caller's live alerts as Server-Sent Events.

Each SSE event is one alert-history row (``event:`` alert-raised / -updated / -acknowledged / -resolved,
``id:`` the history id, ``data:`` the alert as JSON). ``Last-Event-ID`` resumes after that id with every
row the caller may see, then continues live; without it the stream starts now. Comment lines are sent as
heartbeats. The hub is subscribed before the catch-up query, so no row falls between the two.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse

from rapport_alliance_monitor.api.deps import HubDep, SettingsDep, TransactionsDep
from rapport_alliance_monitor.api.models import AlertView
from rapport_alliance_monitor.domain.visibility import ALERT_ROLES
from rapport_alliance_monitor.sse.hub import AlertHub, Subscription
from rapport_alliance_monitor.use_cases.alerts import history_after
from rapport_common.auth import Principal, require_roles
from rapport_common.refusal import Refusal

router = APIRouter(tags=["alerts"])

StreamReader = Annotated[Principal, Depends(require_roles(*ALERT_ROLES))]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]
#: the most rows a resumed stream catches up with before it continues live
BACKLOG_LIMIT = 10_000


@router.get("/alerts/stream", response_class=StreamingResponse)
async def stream_alerts(
    request: Request,
    principal: StreamReader,
    transactions: TransactionsDep,
    hub: HubDep,
    settings: SettingsDep,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    after = _resume_after(last_event_id)
    subscription = hub.subscribe(principal)
    try:
        backlog: list[dict[str, Any]] = []
        if after is not None:
            async with transactions.begin() as uow:
                backlog = await history_after(uow, principal=principal, after=after, limit=BACKLOG_LIMIT)
    except BaseException:
        hub.unsubscribe(subscription)
        raise
    start = subscription.start_after if after is None else after
    return StreamingResponse(
        _events(hub, subscription, backlog, start=start, heartbeat_s=settings.sse_heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _resume_after(last_event_id: str | None) -> int | None:
    """The history id to resume after (None: start now); anything but an id this stream sent is refused."""
    if last_event_id is None or not last_event_id.strip():
        return None
    try:
        return int(last_event_id)
    except ValueError:
        raise Refusal(422, "header.Last-Event-ID", "must be an id this stream sent (an integer)") from None


async def _events(
    hub: AlertHub, subscription: Subscription, backlog: list[dict[str, Any]], *, start: int, heartbeat_s: float
) -> AsyncIterator[str]:
    """The catch-up rows, then live rows past the last one sent; heartbeats while nothing happens."""
    last = start
    try:
        yield "retry: 2000\n: connected\n\n"
        for entry in backlog:
            yield sse_message(entry)
            last = entry["history_id"]
        while True:
            try:
                live = await asyncio.wait_for(subscription.queue.get(), timeout=heartbeat_s)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if live is None:
                return
            if live["history_id"] <= last:
                continue
            yield sse_message(live)
            last = live["history_id"]
    finally:
        hub.unsubscribe(subscription)


def sse_message(entry: dict[str, Any]) -> str:
    alert = AlertView.of(entry).model_dump(mode="json")
    data = {
        "action": entry["action"],
        "by": entry["by"],
        "at": entry["at"].isoformat(),
        "note": entry["note"],
        "added_evidence": list(entry["added_evidence"]),
        "alert": alert,
    }
    return f"id: {entry['history_id']}\nevent: alert-{entry['action']}\ndata: {json.dumps(data)}\n\n"
