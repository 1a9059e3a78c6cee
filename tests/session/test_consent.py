"""Consent enforcement against the (fake, in-process) consent check endpoint; the client fails closed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rapport_common.events.session import MessageSent

SRS = {"items": {"relationship": 9.0, "goals_topics": 9.0, "approach_method": 9.0, "overall": 9.0}}


async def _booked(svc: Any, scopes: tuple[str, ...]) -> tuple[str, str, str]:
    client, clinician = await svc.pair(scopes=scopes)
    booked = await svc.schedule(client, clinician, start_in=timedelta(minutes=10))
    await svc.http.post(f"/sessions/{booked['session_id']}/join", headers=svc.as_client(client))
    return client, clinician, booked["session_id"]


async def test_no_session_starts_without_telehealth_consent(svc: Any) -> None:
    client, clinician, sid = await _booked(svc, ("measurement-feedback",))
    response = await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))
    assert response.status_code == 403 and "telehealth-treatment" in response.json()["detail"]
    events = await svc.events.wait_for(client, 2)
    assert svc.types(events) == ["session.scheduled", "session.participant-joined"]


async def test_no_recording_without_recording_consent(svc: Any) -> None:
    client, clinician, sid = await _booked(svc, ("telehealth-treatment",))
    assert (await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))).status_code == 200
    response = await svc.http.post(f"/sessions/{sid}/recording", headers=svc.as_clinician(clinician))
    assert response.status_code == 403 and "session-recording" in response.json()["detail"]
    svc.consent.grant(client, "session-recording")
    response = await svc.http.post(f"/sessions/{sid}/recording", headers=svc.as_clinician(clinician))
    assert response.status_code == 200
    events = await svc.events.wait_for(client, 4)
    assert svc.types(events)[-1] == "session.recording-started"


async def test_feedback_is_refused_with_a_clear_message_without_feedback_consent(svc: Any) -> None:
    client, clinician, sid = await _booked(svc, ("telehealth-treatment",))
    await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))
    for path, body in (
        ("srs", SRS),
        ("pulse", {"question": "on-track", "score": 3}),
        ("ors", {"items": {"individual": 5.0, "interpersonal": 5.0, "social": 5.0, "overall": 5.0}}),
        ("wai", {"items": [3] * 12}),
    ):
        response = await svc.http.post(f"/sessions/{sid}/feedback/{path}", json=body, headers=svc.as_client(client))
        assert response.status_code == 403, path
        assert response.json()["detail"] == (
            "consent: the client has no active measurement-feedback consent, so feedback is not recorded"
        )
    assert await svc.pool.fetchval("SELECT count(*) FROM feedback_responses WHERE session_id = $1", sid) == 0
    events = await svc.events.wait_for(client, 3)
    assert not any(t.startswith("feedback.") for t in svc.types(events))


async def test_the_consent_client_fails_closed_when_the_consent_service_does_not_answer(svc: Any) -> None:
    _client, clinician, sid = await _booked(svc, ("telehealth-treatment",))
    try:
        for mode in ("error", "hang"):
            svc.consent.mode = mode
            response = await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))
            assert response.status_code == 403, mode
    finally:
        svc.consent.mode = "up"
    assert (await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))).status_code == 200


async def test_messages_are_scanned_only_under_message_scanning_consent(svc: Any) -> None:
    text = "Text me on my cell 415-555-0199 or venmo me the fee"
    scanned_client, scanned_clinician = await svc.pair()
    plain_client, plain_clinician = await svc.pair(scopes=("telehealth-treatment",))
    for client in (scanned_client, plain_client):
        response = await svc.http.post(
            "/messages", json={"client_id": client, "body": text}, headers=svc.as_client(client)
        )
        assert response.status_code == 201 and "flags" not in response.json()
    scanned = (await svc.events.wait_for(scanned_client, 1))[0]
    plain = (await svc.events.wait_for(plain_client, 1))[0]
    assert isinstance(scanned, MessageSent) and isinstance(plain, MessageSent)
    assert scanned.data.flags == ["off-platform-contact", "payment-request"]
    assert scanned.data.clinician_id == scanned_clinician and scanned.data.sender == "client"
    assert plain.data.flags == [] and plain.data.clinician_id == plain_clinician
    # the number as written (a bare "415" also turns up in random UUIDs: this assertion once failed on one)
    assert "415-555-0199" not in scanned.model_dump_json() and "venmo" not in scanned.model_dump_json()
    listed = await svc.http.get(
        "/messages", params={"client_id": scanned_client}, headers=svc.as_clinician(scanned_clinician)
    )
    assert [m["body"] for m in listed.json()] == [text]


async def test_answers_are_cached_briefly(make_service: Any) -> None:
    from datetime import UTC, datetime

    from rapport_common.clock import ManualClock

    async with make_service(None, ManualClock(datetime(2031, 7, 7, 9, 0, tzinfo=UTC)), consent_cache_ttl_s=30) as svc:
        client, _clinician = await svc.pair(scopes=("telehealth-treatment", "message-scanning"))
        calls = svc.consent.calls
        for _ in range(5):
            response = await svc.http.post(
                "/messages", json={"client_id": client, "body": "hello"}, headers=svc.as_client(client)
            )
            assert response.status_code == 201
        assert svc.consent.calls - calls == 1
