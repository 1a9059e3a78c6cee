"""Telemetry ingestion, built for volume: many windows (of many sessions) per request, one transaction.

The video client (``service`` role) posts per-minute windows; a clinician may post for their own sessions.
Per request: every window is checked (field-named refusals), the sessions are loaded in one query, consent
is asked once per client (cached), then the windows and their events are written in one unit of work (one
bulk insert for the windows, one for the outbox). Windows of clients without ``alliance-analytics`` consent
are dropped and counted, never stored or emitted. A retried window (same session and start) is a
duplicate: stored once, emitted once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from prometheus_client import Counter

from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_common.events.session import SessionTelemetry, TelemetryData
from rapport_common.refusal import Refusal
from rapport_session import consent_client as scopes
from rapport_session.consent_client import ConsentClient
from rapport_session.domain import lifecycle
from rapport_session.events import build
from rapport_session.models import TelemetryBatch, TelemetryResult, TelemetryWindow
from rapport_session.settings import SessionSettings
from rapport_session.store import sessions
from rapport_session.store import telemetry as store
from rapport_session.store.sessions import Row

WINDOWS = Counter("rapport_session_telemetry_windows_total", "Telemetry windows by outcome", ["outcome"])


async def ingest_telemetry(
    transactions: Transactions,
    *,
    principal: Principal,
    batch: TelemetryBatch,
    consent: ConsentClient,
    settings: SessionSettings,
) -> TelemetryResult:
    """Store and emit the new windows of consenting clients; one bad window refuses the whole batch."""
    if principal.role not in ("service", "clinician"):
        raise Refusal(403, "role", f"{principal.role!r} may not post telemetry")
    if len(batch.windows) > settings.telemetry_max_windows:
        raise Refusal(422, "body.windows", f"at most {settings.telemetry_max_windows} windows per request")
    async with transactions.begin() as uow:
        known = await sessions.get_many(uow.conn, list({w.session_id for w in batch.windows}))
    _check_windows(principal, batch.windows, known)
    covered = await consent.active_clients({s["client_id"] for s in known.values()}, scopes.ANALYTICS)
    kept = [(w, _event(known[w.session_id], w)) for w in batch.windows if known[w.session_id]["client_id"] in covered]
    new: set[str] = set()
    if kept:
        async with transactions.begin() as uow:
            new = await store.insert_new(uow.conn, [_row(window, event.id) for window, event in kept])
            await uow.publish(*(event for _, event in kept if event.id in new))
    result = TelemetryResult(
        accepted=len(new), duplicates=len(kept) - len(new), dropped_no_consent=len(batch.windows) - len(kept)
    )
    WINDOWS.labels("accepted").inc(result.accepted)
    WINDOWS.labels("duplicate").inc(result.duplicates)
    WINDOWS.labels("dropped-no-consent").inc(result.dropped_no_consent)
    return result


def _check_windows(principal: Principal, windows: Collection[TelemetryWindow], known: Mapping[str, Row]) -> None:
    """Each window's session exists, is the clinician's own (for a clinician) and accepts windows now."""
    for index, window in enumerate(windows):
        field = f"body.windows.{index}.session_id"
        session = known.get(window.session_id)
        if session is None:
            raise Refusal(404, field, "session not found")
        if principal.role == "clinician" and session["clinician_id"] != principal.subject:
            raise Refusal(403, field, "not a session of yours")
        lifecycle.next_status("ingest-telemetry", session["status"], field=field)


def _row(window: TelemetryWindow, event_id: str) -> store.Window:
    return (
        window.session_id,
        window.window_start,
        window.window_end,
        window.client_talk_ratio,
        window.client_camera_on_ratio,
        window.longest_silence_s,
        event_id,
    )


def _event(session: Row, window: TelemetryWindow) -> SessionTelemetry:
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
    # a window happened when it ended
    return build(SessionTelemetry, client_id=session["client_id"], data=data, at=window.window_end)
