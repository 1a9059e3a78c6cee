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

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import StreamingResponse

from rapport_alliance_monitor.api.access import ALERT_ROLES
from rapport_alliance_monitor.api.deps import HubDep, PoolDep, RuntimeDep
from rapport_alliance_monitor.api.models import AlertView
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_alliance_monitor.store import alerts
from rapport_common.auth import Principal, require_roles

router = APIRouter(tags=["alerts"])

StreamReader = Annotated[Principal, Depends(require_roles(*ALERT_ROLES))]


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


@router.get("/alerts/stream", response_class=StreamingResponse)
async def stream_alerts(
    request: Request,
    principal: StreamReader,
    pool: PoolDep,
    hub: HubDep,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    after: int | None = None
    if last_event_id is not None and last_event_id.strip():
        try:
            after = int(last_event_id)
        except ValueError:
            raise HTTPException(422, "header.Last-Event-ID: must be an id this stream sent (an integer)") from None
    settings: AllianceMonitorSettings = runtime.settings
    subscription = hub.subscribe(principal)
    try:
        backlog = (
            await alerts.history_since(pool, after, limit=10_000, role=principal.role, subject=principal.subject)
            if after is not None
            else []
        )
    except BaseException:
        hub.unsubscribe(subscription)
        raise

    async def body() -> AsyncIterator[str]:
        last = subscription.start_after if after is None else after
        try:
            yield "retry: 2000\n: connected\n\n"
            for entry in backlog:
                yield sse_message(dict(entry))
                last = entry["history_id"]
            while True:
                try:
                    entry = await asyncio.wait_for(subscription.queue.get(), timeout=settings.sse_heartbeat_s)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if entry is None:
                    return
                if entry["history_id"] <= last:
                    continue
                yield sse_message(entry)
                last = entry["history_id"]
        finally:
            hub.unsubscribe(subscription)

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
