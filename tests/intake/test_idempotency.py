"""A retried POST with the same Idempotency-Key registers nothing twice and publishes nothing twice."""

from __future__ import annotations

import asyncio
from typing import Any


async def test_retried_client_registration_registers_once(intake: Any, event_tap: Any, auth: Any, ids: Any) -> None:
    registrar = ids("clin")
    headers = auth("clinician", registrar) | {"Idempotency-Key": ids("key")}
    body = {"age_band": "adult", "timezone": "Europe/Rome"}  # no client_id: the service generates one
    first = await intake.http.post("/clients", json=body, headers=headers)
    retry = await intake.http.post("/clients", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers.get("idempotent-replayed") == "true"
    assert await intake.pool.fetchval("SELECT count(*) FROM clients WHERE registered_by = $1", registrar) == 1
    events = await event_tap.events_for(first.json()["client_id"], 1)
    assert [e.type for _, e in events] == ["rapport.intake.client-registered"]


async def test_concurrent_retries_register_once(intake: Any, event_tap: Any, auth: Any, ids: Any) -> None:
    registrar = ids("svc")
    headers = auth("service", registrar) | {"Idempotency-Key": ids("key")}
    body = {"age_band": "child", "timezone": "Australia/Sydney"}
    responses = await asyncio.gather(*(intake.http.post("/clients", json=body, headers=headers) for _ in range(6)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["client_id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 5
    assert await intake.pool.fetchval("SELECT count(*) FROM clients WHERE registered_by = $1", registrar) == 1
    events = await event_tap.events_for(responses[0].json()["client_id"], 1)
    assert len(events) == 1


async def test_same_key_other_body_is_refused(intake: Any, auth: Any, ids: Any) -> None:
    headers = auth("service", ids("svc")) | {"Idempotency-Key": ids("key")}
    ok = await intake.http.post("/clients", json={"age_band": "adult", "timezone": "UTC"}, headers=headers)
    other = await intake.http.post("/clients", json={"age_band": "child", "timezone": "UTC"}, headers=headers)
    assert ok.status_code == 201
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]


async def test_keys_are_scoped_to_the_caller(intake: Any, auth: Any, ids: Any) -> None:
    """Two callers who happen to pick the same key each get their own registration, never the other's."""
    key = ids("key")
    body = {"age_band": "adult", "timezone": "UTC"}
    one = await intake.http.post("/clients", json=body, headers=auth("service", ids("svc")) | {"Idempotency-Key": key})
    two = await intake.http.post("/clients", json=body, headers=auth("service", ids("svc")) | {"Idempotency-Key": key})
    assert one.status_code == two.status_code == 201
    assert one.json()["client_id"] != two.json()["client_id"]


async def test_retried_clinician_registration_registers_once(intake: Any, event_tap: Any, auth: Any, ids: Any) -> None:
    registrar = ids("op")
    headers = auth("operator", registrar) | {"Idempotency-Key": ids("key")}
    body = {
        "display_name": "Dr. Retry",
        "timezone": "UTC",
        "working_hours": [{"weekday": 5, "start": "10:00", "end": "14:00"}],
    }
    first = await intake.http.post("/clinicians", json=body, headers=headers)
    retry = await intake.http.post("/clinicians", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201 and retry.json() == first.json()
    assert await intake.pool.fetchval("SELECT count(*) FROM clinicians WHERE registered_by = $1", registrar) == 1
    assert len(await event_tap.events_for(first.json()["clinician_id"], 1)) == 1


async def test_retried_intake_and_assignment_publish_once(
    intake: Any,
    event_tap: Any,
    auth: Any,
    ids: Any,
    register_clinician: Any,
    register_client: Any,
    intake_body: Any,
) -> None:
    clinician_id = (await register_clinician())["clinician_id"]
    client_id = (await register_client())["client_id"]
    service = auth("service", ids("svc"))
    assign_key, intake_key = {"Idempotency-Key": ids("key")}, {"Idempotency-Key": ids("key")}
    path = f"/clients/{client_id}"
    a1 = await intake.http.post(
        f"{path}/assignments", json={"clinician_id": clinician_id}, headers=service | assign_key
    )
    a2 = await intake.http.post(
        f"{path}/assignments", json={"clinician_id": clinician_id}, headers=service | assign_key
    )
    assert a1.status_code == a2.status_code == 201 and a1.json() == a2.json()  # not the 200 "unchanged" answer
    i1 = await intake.http.post(f"{path}/intake", json=intake_body(), headers=service | intake_key)
    i2 = await intake.http.post(f"{path}/intake", json=intake_body(), headers=service | intake_key)
    assert i1.status_code == i2.status_code == 201 and i1.json() == i2.json()  # not the 409 of a second intake
    events = await event_tap.events_for(client_id, 4)
    assert sorted(e.type for _, e in events) == [
        "rapport.feedback.ors-submitted",
        "rapport.intake.client-registered",
        "rapport.intake.clinician-assigned",
        "rapport.intake.completed",
    ]
