"""Client registration end to end: HTTP -> PostgreSQL + outbox -> relay -> `intake.events`."""

from __future__ import annotations

from typing import Any

from rapport_common.events.intake import ClientRegistered


async def test_client_registration_emits_exactly_one_client_registered(
    intake: Any, event_tap: Any, auth: Any, ids: Any
) -> None:
    client_id = ids("client")
    body = {"client_id": client_id, "age_band": "adolescent", "timezone": "Europe/London"}
    response = await intake.http.post("/clients", json=body, headers=auth("clinician"))
    assert response.status_code == 201, response.text
    assert response.json()["client_id"] == client_id

    events = await event_tap.events_for(client_id, 1)
    assert [(topic, type(event)) for topic, event in events] == [("intake.events", ClientRegistered)]
    event = events[0][1]
    assert event.subject == client_id
    assert event.source == "/rapport/intake"
    assert event.data.model_dump() == {"client_id": client_id, "age_band": "adolescent", "timezone": "Europe/London"}
    assert not event_tap.invalid


async def test_generated_client_id_when_none_given(intake: Any, event_tap: Any, auth: Any, ids: Any) -> None:
    response = await intake.http.post(
        "/clients", json={"age_band": "child", "timezone": "Asia/Tokyo"}, headers=auth("service")
    )
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    events = await event_tap.events_for(client_id, 1)
    assert [event.data.age_band for _, event in events] == ["child"]
