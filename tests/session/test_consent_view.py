"""The local consent view (fed by ``consent.events``) answers while the consent service does not.

The consent service stand-in is switched to fail (503) or hang; grants, revocations and expiries are
published to the real ``consent.events`` topic as the consent service would publish them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rapport_common.events.consent import (
    ConsentExpired,
    ConsentExpiredData,
    ConsentGranted,
    ConsentGrantedData,
    ConsentRevoked,
    ConsentRevokedData,
    GrantedBy,
    RevokedBy,
)


@contextmanager
def consent_service_down(svc: Any, mode: str = "error") -> Iterator[None]:
    svc.consent.mode = mode
    try:
        yield
    finally:
        svc.consent.mode = "up"


async def _grant(svc: Any, client: str, scope: str, *, valid_until: Any = None) -> str:
    consent_id = f"consent-{uuid.uuid4()}"
    data = ConsentGrantedData(
        consent_id=consent_id,
        client_id=client,
        scope=scope,
        granted_by=GrantedBy(actor_id=client, role="client"),
        method="e-signature",
        document_version="1",
        valid_from=svc.clock.now() - timedelta(days=1),
        valid_until=valid_until,
    )
    await svc.publish_consent(ConsentGranted, data, consent_id=consent_id)
    return consent_id


async def _booked(svc: Any) -> tuple[str, str, str]:
    """A pair the consent service knows nothing about (its stand-in has no grants for it)."""
    client, clinician = await svc.pair(scopes=())
    booked = await svc.schedule(client, clinician, start_in=timedelta(minutes=10))
    return client, clinician, booked["session_id"]


async def test_an_outage_does_not_stop_a_session_the_local_view_knows_is_covered(svc: Any) -> None:
    client, clinician, sid = await _booked(svc)
    await _grant(svc, client, "telehealth-treatment")
    for mode in ("error", "hang"):
        with consent_service_down(svc, mode):
            response = await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))
            assert response.status_code in (200, 409), (mode, response.text)  # 409: already started (2nd mode)
    row = await svc.pool.fetchrow("SELECT status FROM sessions WHERE session_id = $1", sid)
    assert row["status"] == "running"


async def test_during_an_outage_the_view_refuses_a_client_it_knows_is_not_covered(svc: Any) -> None:
    _client, clinician, sid = await _booked(svc)
    with consent_service_down(svc):
        response = await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))
    assert response.status_code == 403 and "telehealth-treatment" in response.json()["detail"]


async def test_a_revocation_and_an_expiry_reach_the_view(svc: Any) -> None:
    client, clinician, sid = await _booked(svc)
    revoked = await _grant(svc, client, "telehealth-treatment")
    expired = await _grant(svc, client, "message-scanning", valid_until=svc.clock.now() - timedelta(minutes=1))
    await svc.publish_consent(
        ConsentRevoked,
        ConsentRevokedData(
            consent_id=revoked,
            client_id=client,
            scope="telehealth-treatment",
            revoked_by=RevokedBy(actor_id=client, role="client"),
            effective_at=svc.clock.now() - timedelta(seconds=1),
        ),
        consent_id=revoked,
        wait_for="end",
    )
    await svc.publish_consent(
        ConsentExpired,
        ConsentExpiredData(consent_id=expired, client_id=client, scope="message-scanning", expired_at=svc.clock.now()),
        consent_id=expired,
        wait_for="end",
    )
    with consent_service_down(svc):
        start = await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(clinician))
        message = await svc.http.post(
            "/messages", json={"client_id": client, "body": "call me on 415-555-0199"}, headers=svc.as_client(client)
        )
    assert start.status_code == 403, start.text
    assert message.status_code == 201, message.text  # not covered: stored and sent unscanned
    assert await svc.pool.fetchval("SELECT scanned FROM messages WHERE client_id = $1", client) is False


async def test_during_an_outage_a_message_of_a_covered_client_is_scanned(svc: Any) -> None:
    client, _clinician, _sid = await _booked(svc)
    await _grant(svc, client, "message-scanning")
    with consent_service_down(svc):
        response = await svc.http.post(
            "/messages", json={"client_id": client, "body": "text me on 415-555-0199"}, headers=svc.as_client(client)
        )
    assert response.status_code == 201, response.text
    row = await svc.pool.fetchrow("SELECT scanned, flags FROM messages WHERE client_id = $1", client)
    assert row["scanned"] is True and row["flags"] == ["off-platform-contact"]


async def test_the_view_does_not_answer_when_its_consumer_is_not_current(make_service: Any) -> None:
    """Neither the consent service nor a current view: 503 + Retry-After, nothing stored or emitted."""
    from datetime import UTC, datetime

    from rapport_common.clock import ManualClock

    clock = ManualClock(datetime(2031, 7, 7, 9, 0, tzinfo=UTC))
    async with make_service(None, clock, consent_view_max_age_s=0.5) as svc:
        client, clinician, running_sid = await _booked(svc)
        svc.consent.grant(client, "telehealth-treatment", "alliance-analytics")
        started = await svc.http.post(f"/sessions/{running_sid}/start", headers=svc.as_clinician(clinician))
        assert started.status_code == 200, started.text
        waiting_sid = (await svc.schedule(client, clinician, start_in=timedelta(minutes=20)))["session_id"]
        await _grant(svc, client, "telehealth-treatment")  # the view knows, but will not be current
        consumer = next(c for c in svc.app.state.runtime.consumers if c.group_id == svc.settings.consent_consumer_group)
        consumer.stop()  # the view stops being fed
        await asyncio.sleep(1.0)
        window = {
            "session_id": running_sid,
            "window_start": clock.now().isoformat(),
            "window_end": (clock.now() + timedelta(minutes=1)).isoformat(),
            "client_talk_ratio": 0.5,
            "client_camera_on_ratio": 1.0,
            "longest_silence_s": 3.0,
        }
        with consent_service_down(svc):
            start = await svc.http.post(f"/sessions/{waiting_sid}/start", headers=svc.as_clinician(clinician))
            telemetry = await svc.http.post("/telemetry", json={"windows": [window]}, headers=svc.as_service())
        for response, scope in ((start, "telehealth-treatment"), (telemetry, "alliance-analytics")):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
            assert (
                response.json()["detail"]
                == f"consent: cannot confirm {scope} consent now (consent service unavailable)"
            )
        assert await svc.pool.fetchval("SELECT status FROM sessions WHERE session_id = $1", waiting_sid) == "scheduled"
        assert await svc.pool.fetchval("SELECT count(*) FROM telemetry_windows") == 0
        # the consent service answers again: the same window is accepted
        retried = await svc.http.post("/telemetry", json={"windows": [window]}, headers=svc.as_service())
        assert retried.status_code == 202 and retried.json()["accepted"] == 1, retried.text
