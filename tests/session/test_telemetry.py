"""Telemetry ingestion: many windows of many sessions per request, one transaction, consent-gated, deduplicated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY

from rapport_common.events.session import SessionTelemetry


def _windows(session_id: str, start: Any, count: int, *, talk: float = 0.3) -> list[dict[str, Any]]:
    return [
        {
            "session_id": session_id,
            "window_start": (start + timedelta(minutes=i)).isoformat(),
            "window_end": (start + timedelta(minutes=i + 1)).isoformat(),
            "client_talk_ratio": talk,
            "client_camera_on_ratio": 0.9,
            "longest_silence_s": 20.0,
        }
        for i in range(count)
    ]


async def _running(svc: Any, *, scopes: tuple[str, ...] | None = None) -> tuple[str, str, str]:
    client, clinician = await (svc.pair() if scopes is None else svc.pair(scopes=scopes))
    booked = await svc.schedule(client, clinician, start_in=timedelta(minutes=30))
    svc.consent.grants.add((client, "telehealth-treatment"))
    await svc.http.post(f"/sessions/{booked['session_id']}/join", headers=svc.as_client(client))
    started = await svc.http.post(f"/sessions/{booked['session_id']}/start", headers=svc.as_clinician(clinician))
    assert started.status_code == 200, started.text
    return client, clinician, booked["session_id"]


def _dropped() -> float:
    return REGISTRY.get_sample_value("rapport_session_telemetry_windows_total", {"outcome": "dropped-no-consent"}) or 0


async def test_one_request_carries_windows_of_many_sessions_and_drops_those_without_consent(svc: Any) -> None:
    covered = [await _running(svc) for _ in range(3)]
    uncovered = await _running(svc, scopes=("telehealth-treatment",))
    start = svc.clock.now()
    windows = [w for _, _, sid in covered for w in _windows(sid, start, 5)] + _windows(uncovered[2], start, 4)
    before = _dropped()
    response = await svc.http.post("/telemetry", json={"windows": windows}, headers=svc.as_service())
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 15, "duplicates": 0, "dropped_no_consent": 4}
    assert _dropped() - before == 4
    for client, _, sid in covered:
        events = await svc.events.wait_for(client, 3 + 5)
        telemetry = [e for e in events if isinstance(e, SessionTelemetry)]
        assert [t.data.window_start for t in telemetry] == [start + timedelta(minutes=i) for i in range(5)]
        assert all(t.data.session_id == sid and t.time == t.data.window_end for t in telemetry)
    events = await svc.events.wait_for(uncovered[0], 3)
    assert not any(isinstance(e, SessionTelemetry) for e in events)
    stored = await svc.pool.fetchval("SELECT count(*) FROM telemetry_windows WHERE session_id = $1", uncovered[2])
    assert stored == 0


async def test_a_retried_batch_is_stored_and_emitted_once(svc: Any) -> None:
    client, _, sid = await _running(svc)
    windows = _windows(sid, svc.clock.now(), 3)
    first = await svc.http.post("/telemetry", json={"windows": windows}, headers=svc.as_service())
    second = await svc.http.post("/telemetry", json={"windows": windows}, headers=svc.as_service())
    assert first.json()["accepted"] == 3
    assert second.json() == {"accepted": 0, "duplicates": 3, "dropped_no_consent": 0}
    events = await svc.events.wait_for(client, 6, settle=1.0)
    assert len([e for e in events if isinstance(e, SessionTelemetry)]) == 3


async def test_one_bad_window_rejects_the_whole_batch(svc: Any) -> None:
    client, _, sid = await _running(svc)
    windows = _windows(sid, svc.clock.now(), 4)
    windows[2]["client_camera_on_ratio"] = 1.5
    response = await svc.http.post("/telemetry", json={"windows": windows}, headers=svc.as_service())
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.windows.2.client_camera_on_ratio"
    windows[2]["client_camera_on_ratio"] = 0.5
    windows[3]["session_id"] = "no-such-session"
    response = await svc.http.post("/telemetry", json={"windows": windows}, headers=svc.as_service())
    assert response.status_code == 404 and "body.windows.3.session_id" in response.json()["detail"]
    assert await svc.pool.fetchval("SELECT count(*) FROM telemetry_windows WHERE session_id = $1", sid) == 0
    events = await svc.events.wait_for(client, 3)
    assert not any(isinstance(e, SessionTelemetry) for e in events)


async def test_telemetry_for_a_session_not_started_is_refused(svc: Any) -> None:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician)
    response = await svc.http.post(
        "/telemetry", json={"windows": _windows(booked["session_id"], svc.clock.now(), 1)}, headers=svc.as_service()
    )
    assert response.status_code == 409 and "body.windows.0.session_id" in response.json()["detail"]
