"""Telemetry ingestion, built for volume: many windows (of many sessions) per request, one transaction.

The video client (``service`` role) posts per-minute windows; a clinician may post for their own sessions.
Per request: validate every window (field-named 422s), load the sessions in one query, ask consent once per
client (cached), then write the windows and their events in one transaction (one bulk insert for the
windows, one bulk insert into the outbox: ``rapport_common.db.outbox.enqueue``). Windows of clients without
``alliance-analytics`` consent are dropped and counted, never stored or emitted. A retried window (same
session and start) is a duplicate: stored once, emitted once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from prometheus_client import Counter
from pydantic import AwareDatetime, Field, model_validator

from rapport_common.db import outbox
from rapport_common.events.session import SessionTelemetry, TelemetryData
from rapport_session import consent_client as scopes
from rapport_session.api.deps import CallerDep, ConsentDep, PoolDep, SettingsDep, forbid
from rapport_session.api.models import Body, Id
from rapport_session.events import build
from rapport_session.store import sessions
from rapport_session.store import telemetry as store

router = APIRouter(tags=["telemetry"])

WINDOWS = Counter("rapport_session_telemetry_windows_total", "Telemetry windows by outcome", ["outcome"])
MAX_WINDOW_S = 600
ACCEPTING = ("running", "ended")  # ended: the last windows may arrive just after the end

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class TelemetryWindow(Body):
    session_id: Id
    window_start: AwareDatetime
    window_end: AwareDatetime
    client_talk_ratio: Ratio
    client_camera_on_ratio: Ratio
    longest_silence_s: float = Field(ge=0.0)

    @model_validator(mode="after")
    def _window(self) -> TelemetryWindow:
        length = (self.window_end - self.window_start).total_seconds()
        if length <= 0:
            raise ValueError("window_end must be after window_start")
        if length > MAX_WINDOW_S:
            raise ValueError(f"window_end: a window lasts at most {MAX_WINDOW_S} s")
        if self.longest_silence_s > length + 1e-6:
            raise ValueError("longest_silence_s cannot exceed the window length")
        return self


class TelemetryBatch(Body):
    windows: list[TelemetryWindow] = Field(min_length=1)


class TelemetryResult(Body):
    accepted: int
    duplicates: int
    dropped_no_consent: int


@router.post("/telemetry", status_code=202, response_model=TelemetryResult)
async def ingest_telemetry(
    body: TelemetryBatch, caller: CallerDep, pool: PoolDep, consent: ConsentDep, settings: SettingsDep
) -> Any:
    if caller.role not in ("service", "clinician"):
        raise forbid(f"role {caller.role!r} may not post telemetry")
    if len(body.windows) > settings.telemetry_max_windows:
        raise HTTPException(422, f"body.windows: at most {settings.telemetry_max_windows} windows per request")
    async with pool.acquire() as conn:
        known = await sessions.get_many(conn, list({w.session_id for w in body.windows}))
    for index, window in enumerate(body.windows):
        session = known.get(window.session_id)
        if session is None:
            raise HTTPException(404, f"body.windows.{index}.session_id: session not found")
        if caller.role == "clinician" and session["clinician_id"] != caller.subject:
            raise forbid(f"body.windows.{index}.session_id: not a session of yours")
        if session["status"] not in ACCEPTING:
            raise HTTPException(409, f"body.windows.{index}.session_id: session is {session['status']}")
    covered = await consent.active_clients({s["client_id"] for s in known.values()}, scopes.ANALYTICS)
    rows: list[store.Window] = []
    events: dict[str, SessionTelemetry] = {}
    dropped = 0
    for window in body.windows:
        session = known[window.session_id]
        if session["client_id"] not in covered:
            dropped += 1
            continue
        event = _event(session, window)
        events[event.id] = event
        rows.append(
            (
                window.session_id,
                window.window_start,
                window.window_end,
                window.client_talk_ratio,
                window.client_camera_on_ratio,
                window.longest_silence_s,
                event.id,
            )
        )
    new: set[str] = set()
    if rows:
        async with pool.acquire() as conn, conn.transaction():
            new = await store.insert_new(conn, rows)
            await outbox.enqueue(conn, [event for event_id, event in events.items() if event_id in new])
    duplicates = len(rows) - len(new)
    WINDOWS.labels("accepted").inc(len(new))
    WINDOWS.labels("duplicate").inc(duplicates)
    WINDOWS.labels("dropped-no-consent").inc(dropped)
    return TelemetryResult(accepted=len(new), duplicates=duplicates, dropped_no_consent=dropped)


def _event(session: Any, window: TelemetryWindow) -> SessionTelemetry:
    data = TelemetryData(
        session_id=session["session_id"],
        client_id=session["client_id"],
        clinician_id=session["clinician_id"],
        window_start=window.window_start,
        window_end=window.window_end,
        client_talk_ratio=window.client_talk_ratio,
        client_camera_on_ratio=window.client_camera_on_ratio,
        longest_silence_s=window.longest_silence_s,
    )
    at: datetime = window.window_end
    return build(SessionTelemetry, client_id=session["client_id"], data=data, at=at)
