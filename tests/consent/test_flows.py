"""Grant, revoke and expire through the HTTP API: exact `consent.events`, ledger entries, point-in-time."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rapport_common.clock import ManualClock
from rapport_common.events.consent import ConsentExpired, ConsentGranted, ConsentRevoked


def iso(value: datetime) -> str:
    return value.isoformat()


async def ledger_rows(consent: Any, client_id: str) -> list[dict[str, Any]]:
    rows = await consent.pool.fetch("SELECT * FROM ledger_entries WHERE client_id = $1 ORDER BY seq", client_id)
    return [dict(row) for row in rows]


async def test_client_grant_emits_exactly_one_granted_event_and_one_ledger_entry(
    consent, consent_tap, register, auth
) -> None:
    client_id, _ = await register("adult")
    response = await consent.http.post(
        "/consents",
        json={"client_id": client_id, "scope": "telehealth-treatment"},
        headers=auth("client", client_id) | {"X-Request-ID": "req-grant-1"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "active"
    assert body["granted_by"] == {"actor_id": client_id, "role": "client"}
    document = await consent.pool.fetchrow(
        "SELECT version, content_hash FROM consent_documents WHERE scope = 'telehealth-treatment'"
    )
    assert (body["document_version"], body["document_hash"]) == (document["version"], document["content_hash"])

    events = await consent_tap.events_for(client_id, 1)
    assert len(events) == 1
    assert [key for key, _ in consent_tap.invalid if key == client_id.encode()] == []  # every record decoded
    event = events[0]
    assert isinstance(event, ConsentGranted)
    assert event.source == "/rapport/consent"
    assert event.data.model_dump(mode="json") == {
        "consent_id": body["consent_id"],
        "client_id": client_id,
        "scope": "telehealth-treatment",
        "granted_by": {"actor_id": client_id, "role": "client"},
        "method": "e-signature",
        "document_version": document["version"],
        "valid_from": event.data.valid_from.isoformat().replace("+00:00", "Z"),
        "valid_until": None,
    }
    assert datetime.fromisoformat(body["valid_from"]) == event.data.valid_from

    [entry] = await ledger_rows(consent, client_id)
    assert (entry["action"], entry["actor_id"], entry["actor_role"]) == ("consent.granted", client_id, "client")
    assert (entry["consent_id"], entry["channel"], entry["request_id"]) == (
        body["consent_id"],
        "e-signature",
        "req-grant-1",
    )
    assert entry["details"]["document_hash"] == document["content_hash"]


@pytest.mark.parametrize(
    "given", ["=cmd|' /C calc'!A0", "req-1\nforged", "r" * 129], ids=["formula", "newline", "too-long"]
)
async def test_a_request_id_that_is_not_plainly_an_id_is_replaced_before_the_ledger_sees_it(
    consent, register, auth, given
) -> None:
    """The ledger keeps the caller's ``X-Request-ID`` for correlation, and exports show it to compliance: one
    outside the safe charset is swapped for a fresh id (the request is still served) and answered back."""
    client_id, _ = await register("adult")
    response = await consent.http.post(
        "/consents",
        json={"client_id": client_id, "scope": "telehealth-treatment"},
        headers=auth("client", client_id) | {"X-Request-ID": given},
    )
    assert response.status_code == 201, response.text
    [entry] = await ledger_rows(consent, client_id)
    assert entry["request_id"] != given and uuid.UUID(entry["request_id"])
    assert response.headers.get("x-request-id") == entry["request_id"]


async def test_check_endpoint_answers_for_now_and_for_a_time(consent, register, auth) -> None:
    client_id, clinician_id = await register("adult")
    before = datetime.now(UTC)
    granted = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": "session-recording"}, headers=auth("client", client_id)
    )
    assert granted.status_code == 201, granted.text
    service = auth("service")
    now = await consent.http.get(
        "/consents/check", params={"client_id": client_id, "scope": "session-recording"}, headers=service
    )
    assert now.status_code == 200
    assert now.json()["active"] is True
    assert now.json()["consent_id"] == granted.json()["consent_id"]
    earlier = await consent.http.get(
        "/consents/check",
        params={"client_id": client_id, "scope": "session-recording", "at": iso(before - timedelta(minutes=10))},
        headers=service,
    )
    assert earlier.json()["active"] is False
    other_scope = await consent.http.get(
        "/consents/check", params={"client_id": client_id, "scope": "research"}, headers=service
    )
    assert other_scope.json()["active"] is False
    by_clinician = await consent.http.get(
        "/consents/check",
        params={"client_id": client_id, "scope": "session-recording"},
        headers=auth("clinician", clinician_id),
    )
    assert by_clinician.status_code == 200 and by_clinician.json()["active"] is True


async def test_revocation_takes_effect_at_effective_at_and_keeps_history(consent, consent_tap, register, auth) -> None:
    client_id, _ = await register("adult")
    me = auth("client", client_id)
    granted = (
        await consent.http.post("/consents", json={"client_id": client_id, "scope": "measurement-feedback"}, headers=me)
    ).json()
    effective = datetime.now(UTC) + timedelta(seconds=2)
    response = await consent.http.post(
        f"/consents/{granted['consent_id']}/revoke",
        json={"effective_at": iso(effective), "reason": "changed my mind"},
        headers=me,
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "active"  # not yet effective
    assert response.json()["revocation"]["revoked_by"] == {"actor_id": client_id, "role": "client"}

    events = await consent_tap.events_for(client_id, 2)
    assert [type(e) for e in events] == [ConsentGranted, ConsentRevoked]
    revoked = events[1].data
    assert revoked.model_dump(mode="json") | {"effective_at": None} == {
        "consent_id": granted["consent_id"],
        "client_id": client_id,
        "scope": "measurement-feedback",
        "revoked_by": {"actor_id": client_id, "role": "client"},
        "effective_at": None,
        "reason": "changed my mind",
    }
    assert revoked.effective_at == effective

    def at(t: datetime) -> dict[str, str]:
        return {"at": iso(t)}

    granted_at = datetime.fromisoformat(granted["valid_from"])
    path = f"/clients/{client_id}/consents"
    during = (await consent.http.get(path, params=at(effective - timedelta(milliseconds=1)), headers=me)).json()
    assert during["active_scopes"] == ["measurement-feedback"]
    after = (await consent.http.get(path, params=at(effective), headers=me)).json()
    assert after["active_scopes"] == []
    assert after["consents"][0]["state"] == "revoked"
    before = (await consent.http.get(path, params=at(granted_at - timedelta(seconds=1)), headers=me)).json()
    assert before["active_scopes"] == [] and before["consents"][0]["state"] == "pending"

    # the grant row is untouched: history is never rewritten
    row = await consent.pool.fetchrow("SELECT valid_until FROM consents WHERE consent_id = $1", granted["consent_id"])
    assert row["valid_until"] is None
    again = await consent.http.post(f"/consents/{granted['consent_id']}/revoke", json={}, headers=me)
    assert again.status_code == 409
    assert "retry-after" not in again.headers  # permanent: retrying can never succeed
    assert [e["action"] for e in await ledger_rows(consent, client_id)] == ["consent.granted", "consent.revoked"]


async def test_expiry_job_expires_and_emits_expired(consent, consent_tap, register, auth) -> None:
    client_id, _ = await register("adult")
    until = datetime.now(UTC) + timedelta(seconds=1.5)
    granted = await consent.http.post(
        "/consents",
        json={"client_id": client_id, "scope": "alliance-analytics", "valid_until": iso(until)},
        headers=auth("client", client_id),
    )
    assert granted.status_code == 201, granted.text
    events = await consent_tap.events_for(client_id, 2, timeout_s=20)
    assert [type(e) for e in events] == [ConsentGranted, ConsentExpired]
    expired = events[1]
    assert expired.data.model_dump() == {
        "consent_id": granted.json()["consent_id"],
        "client_id": client_id,
        "scope": "alliance-analytics",
        "expired_at": until,
    }
    assert expired.time == until
    check = await consent.http.get(
        "/consents/check", params={"client_id": client_id, "scope": "alliance-analytics"}, headers=auth("service")
    )
    assert check.json()["active"] is False
    [_grant, expiry] = await ledger_rows(consent, client_id)
    assert (expiry["action"], expiry["actor_role"], expiry["channel"]) == ("consent.expired", "system", "expiry-job")
    revoke = await consent.http.post(
        f"/consents/{granted.json()['consent_id']}/revoke", json={}, headers=auth("client", client_id)
    )
    assert revoke.status_code == 409
    assert "retry-after" not in revoke.headers


async def test_revoked_before_its_end_is_never_expired(consent, consent_tap, register, auth) -> None:
    client_id, _ = await register("adult")
    me = auth("client", client_id)
    until = datetime.now(UTC) + timedelta(seconds=1)
    granted = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": "research", "valid_until": iso(until)}, headers=me
    )
    revoked = await consent.http.post(f"/consents/{granted.json()['consent_id']}/revoke", json={}, headers=me)
    assert revoked.status_code == 200
    await asyncio.sleep(1.5)
    events = await consent_tap.events_for(client_id, 3, timeout_s=1.0)
    assert [type(e) for e in events] == [ConsentGranted, ConsentRevoked]


async def test_minor_needs_a_guardian(consent, consent_tap, register, auth, ids) -> None:
    client_id, clinician_id = await register("adolescent")
    self_grant = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": "telehealth-treatment"}, headers=auth("client", client_id)
    )
    assert self_grant.status_code == 422
    assert self_grant.json()["errors"][0]["field"] == "body.consenter.role"

    guardian = ids("guardian")
    by_service = await consent.http.post(
        "/consents",
        json={
            "client_id": client_id,
            "scope": "telehealth-treatment",
            "consenter": {"actor_id": guardian, "role": "guardian"},
        },
        headers=auth("service"),
    )
    assert by_service.status_code == 201, by_service.text
    assert by_service.json()["granted_by"] == {"actor_id": guardian, "role": "guardian"}

    verbal_by_client = await consent.http.post(
        "/consents",
        json={
            "client_id": client_id,
            "scope": "session-recording",
            "method": "verbal-witnessed",
            "consenter": {"actor_id": client_id, "role": "client"},
            "witness": {"actor_id": ids("staff"), "role": "staff"},
        },
        headers=auth("clinician", clinician_id),
    )
    assert verbal_by_client.status_code == 422
    verbal = await consent.http.post(
        "/consents",
        json={
            "client_id": client_id,
            "scope": "session-recording",
            "method": "verbal-witnessed",
            "consenter": {"actor_id": guardian, "role": "guardian"},
            "witness": {"actor_id": ids("staff"), "role": "staff"},
        },
        headers=auth("clinician", clinician_id),
    )
    assert verbal.status_code == 201, verbal.text
    assert verbal.json()["granted_by"] == {"actor_id": clinician_id, "role": "clinician"}
    events = await consent_tap.events_for(client_id, 2)
    assert [(e.data.granted_by.role, e.data.method) for e in events] == [
        ("guardian", "e-signature"),
        ("clinician", "verbal-witnessed"),
    ]


async def test_grant_waits_for_the_age_band(consent, auth, ids) -> None:
    """Fail closed: a client intake has not registered yet cannot be granted for (guardian unknown)."""
    client_id = ids("client")
    response = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": "telehealth-treatment"}, headers=auth("client", client_id)
    )
    assert response.status_code == 409
    assert "client_id" in response.json()["detail"]
    assert response.headers["Retry-After"] == "1"  # "retry later": the registration is on its way


async def test_idempotent_retries_have_one_effect(consent, consent_tap, register, auth) -> None:
    client_id, _ = await register("adult")
    me = auth("client", client_id)
    body = {"client_id": client_id, "scope": "message-scanning"}
    first = await consent.http.post("/consents", json=body, headers=me | {"Idempotency-Key": "k-1"})
    second = await consent.http.post("/consents", json=body, headers=me | {"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    different = await consent.http.post(
        "/consents", json=body | {"scope": "research"}, headers=me | {"Idempotency-Key": "k-1"}
    )
    assert different.status_code == 422
    consent_id = first.json()["consent_id"]
    revokes = [
        await consent.http.post(f"/consents/{consent_id}/revoke", json={}, headers=me | {"Idempotency-Key": "r-1"})
        for _ in range(2)
    ]
    assert [r.status_code for r in revokes] == [200, 200]
    assert revokes[0].json() == revokes[1].json()
    events = await consent_tap.events_for(client_id, 3, timeout_s=3)
    assert [type(e) for e in events] == [ConsentGranted, ConsentRevoked]
    assert [e["action"] for e in await ledger_rows(consent, client_id)] == ["consent.granted", "consent.revoked"]
    assert await consent.pool.fetchval("SELECT count(*) FROM consents WHERE client_id = $1", client_id) == 1


async def test_fifty_parallel_grants_keep_the_chain_linear(consent, consent_tap, register, auth) -> None:
    client_id, _ = await register("adult")
    me = auth("client", client_id)
    scopes = ["telehealth-treatment", "session-recording", "measurement-feedback", "research"]
    responses = await asyncio.gather(
        *(
            consent.http.post("/consents", json={"client_id": client_id, "scope": scopes[i % 4]}, headers=me)
            for i in range(50)
        )
    )
    assert [r.status_code for r in responses] == [201] * 50
    rows = await consent.pool.fetch("SELECT seq, prev_hash, hash FROM ledger_entries ORDER BY seq")
    for previous, current in itertools.pairwise(rows):
        assert current["seq"] == previous["seq"] + 1
        assert current["prev_hash"] == previous["hash"]
    mine = await ledger_rows(consent, client_id)
    assert len(mine) == 50
    assert {e["consent_id"] for e in mine} == {r.json()["consent_id"] for r in responses}
    events = await consent_tap.events_for(client_id, 50)
    assert len(events) == 50
    verify = await consent.http.get("/compliance/ledger/verify", headers=auth("compliance"))
    assert verify.json()["ok"] is True, verify.json()


async def test_time_is_the_services_clock_so_an_expiry_a_month_away_can_be_simulated(
    consent_service_on, consent_tap, register, auth
) -> None:
    """Every "now" of the service (the expiry worker, the default time of a check) is its injected clock."""
    clock = ManualClock(datetime.now(UTC))
    async with consent_service_on(clock) as service:
        client_id, _ = await register("adult")
        until = clock.now() + timedelta(days=30)
        body = {"client_id": client_id, "scope": "research", "valid_until": iso(until)}
        for _ in range(100):  # this service learns of the client from intake.events on its own: 409 until then
            granted = await service.http.post("/consents", json=body, headers=auth("client", client_id))
            if granted.status_code != 409:
                break
            await asyncio.sleep(0.2)
        assert granted.status_code == 201, granted.text
        params = {"client_id": client_id, "scope": "research"}
        assert (await service.http.get("/consents/check", params=params, headers=auth("service"))).json()["active"]
        await asyncio.sleep(0.5)  # a few expiry rounds at the clock's time: nothing is due
        assert [type(e) for e in await consent_tap.events_for(client_id, 2, timeout_s=0.5)] == [ConsentGranted]

        clock.advance(timedelta(days=31))
        events = await consent_tap.events_for(client_id, 2, timeout_s=20)
        assert [type(e) for e in events] == [ConsentGranted, ConsentExpired]
        assert events[1].data.expired_at == until
        check = await service.http.get("/consents/check", params=params, headers=auth("service"))
        assert check.json()["active"] is False  # "now" for the check is the clock's too
