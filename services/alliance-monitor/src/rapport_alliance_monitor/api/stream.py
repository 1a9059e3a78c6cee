"""``GET /alerts/stream``: the caller's live alerts as Server-Sent Events.

Each SSE event is one alert-history row (``event:`` alert-raised / -updated / -acknowledged / -resolved,
``id:`` the history id, ``data:`` the alert as JSON). ``Last-Event-ID`` resumes after that id with every
row the caller may see, then continues live; without it the stream starts now. Comment lines are sent as
heartbeats. The hub is subscribed before the catch-up query, so no row falls between the two.

A stream lives no longer than the bearer token that opened it: at the token's ``exp`` it sends one
``event: token-expired`` (no ``id:``, so ``Last-Event-ID`` still names the last alert) and closes, and the
client reconnects with a fresh token. Without this, a token revoked by expiry would keep receiving alerts.
"""

from __future__ import annotations

import asyncio
import json
import time
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
        _events(
            hub,
            subscription,
            backlog,
            start=start,
            heartbeat_s=settings.sse_heartbeat_s,
            expires_at=principal.expires_at,
        ),
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
    hub: AlertHub,
    subscription: Subscription,
    backlog: list[dict[str, Any]],
    *,
    start: int,
    heartbeat_s: float,
    expires_at: float | None,
) -> AsyncIterator[str]:
    """The catch-up rows, then live rows past the last one sent; heartbeats while nothing happens; the end
    at the token's ``expires_at`` (wall-clock seconds, as ``exp`` is)."""
    last = start
    try:
        yield "retry: 2000\n: connected\n\n"
        for entry in backlog:
            yield sse_message(entry)
            last = entry["history_id"]
        while True:
            wait = heartbeat_s
            if expires_at is not None:
                left = expires_at - time.time()
                if left <= 0:
                    yield token_expired_message(expires_at)
                    return
                wait = min(wait, left)
            try:
                live = await asyncio.wait_for(subscription.queue.get(), timeout=wait)
            except TimeoutError:
                if wait == heartbeat_s:
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


def token_expired_message(expires_at: float) -> str:
    """The stream's last event: why it ends (the client reconnects with a fresh token)."""
    exp = int(expires_at) if expires_at.is_integer() else expires_at
    data = {"reason": "token-expired", "exp": exp}
    return f"event: token-expired\ndata: {json.dumps(data)}\n\n"
