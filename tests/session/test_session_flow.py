"""A whole session through the HTTP API emits exactly the contract events, in order, for the client."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rapport_common.events.feedback import SrsSubmitted
from rapport_common.events.session import MessageSent, SessionEnded, SessionScheduled, SessionTelemetry


async def test_whole_session_emits_exactly_the_contract_events_in_order(svc: Any) -> None:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician, start_in=timedelta(days=3))
    sid = booked["session_id"]
    assert booked["status"] == "scheduled"

    svc.clock.set(svc.clock.now() + timedelta(days=3) - timedelta(minutes=2))
    as_client, as_clinician = svc.as_client(client), svc.as_clinician(clinician)
    assert (await svc.http.post(f"/sessions/{sid}/join", headers=as_client)).status_code == 200
    ors = {"individual": 5.5, "interpersonal": 6.0, "social": 4.2, "overall": 5.0}
    response = await svc.http.post(f"/sessions/{sid}/feedback/ors", json={"items": ors}, headers=as_client)
    assert response.status_code == 201, response.text
    assert response.json()["total"] == 20.7
    svc.clock.advance(timedelta(minutes=2))
    assert (await svc.http.post(f"/sessions/{sid}/start", headers=as_clinician)).status_code == 200
    assert (await svc.http.post(f"/sessions/{sid}/join", headers=as_clinician)).status_code == 200
    window_start = svc.clock.now()
    windows = [
        {
            "session_id": sid,
            "window_start": (window_start + timedelta(minutes=i)).isoformat(),
            "window_end": (window_start + timedelta(minutes=i + 1)).isoformat(),
            "client_talk_ratio": 0.4,
            "client_camera_on_ratio": 1.0,
            "longest_silence_s": 12.5,
        }
        for i in range(2)
    ]
    response = await svc.http.post("/telemetry", json={"windows": windows}, headers=svc.as_service())
    assert response.json() == {"accepted": 2, "duplicates": 0, "dropped_no_consent": 0}
    response = await svc.http.post(
        f"/sessions/{sid}/feedback/pulse", json={"question": "felt-heard", "score": 4}, headers=as_client
    )
    assert response.status_code == 201, response.text
    response = await svc.http.post(
        "/messages", json={"client_id": client, "body": "See you next week"}, headers=as_client
    )
    assert response.status_code == 201, response.text
    srs = {"relationship": 9.4, "goals_topics": 9.0, "approach_method": 8.7, "overall": 9.3}
    response = await svc.http.post(
        f"/sessions/{sid}/feedback/srs", json={"items": srs, "comment": "helpful"}, headers=as_client
    )
    assert response.status_code == 201, response.text
    assert response.json()["total"] == 36.4
    svc.clock.advance(timedelta(minutes=48))
    assert (await svc.http.post(f"/sessions/{sid}/leave", headers=as_client)).status_code == 200
    ended = await svc.http.post(f"/sessions/{sid}/end", headers=as_clinician)
    assert ended.json()["status"] == "ended"

    events = await svc.events.wait_for(client, 12)
    # topics are not ordered against each other: the order holds within each topic, per client
    types = svc.types(events)
    assert [t for t in types if t.startswith("session.")] == [
        "session.scheduled",
        "session.participant-joined",
        "session.started",
        "session.participant-joined",
        "session.telemetry",
        "session.telemetry",
        "session.message-sent",
        "session.participant-left",
        "session.ended",
    ]
    assert [t for t in types if t.startswith("feedback.")] == [
        "feedback.ors-submitted",
        "feedback.pulse-submitted",
        "feedback.srs-submitted",
    ]
    assert all(event.subject == client and event.source == "/rapport/session" for event in events)
    scheduled = next(e for e in events if isinstance(e, SessionScheduled))
    assert scheduled.data.session_id == sid and scheduled.data.clinician_id == clinician
    srs_event = next(e for e in events if isinstance(e, SrsSubmitted))
    assert srs_event.data.total == 36.4 and srs_event.data.session_id == sid
    message = next(e for e in events if isinstance(e, MessageSent))
    assert message.data.flags == [] and "See you" not in message.model_dump_json()
    telemetry = [e for e in events if isinstance(e, SessionTelemetry)]
    assert [t.data.client_talk_ratio for t in telemetry] == [0.4, 0.4]
    end = next(e for e in events if isinstance(e, SessionEnded))
    assert end.data.ended_by == clinician and end.data.scheduled_end.isoformat() == booked["scheduled_end"].replace(
        "Z", "+00:00"
    )
