"""Each intake flow emits exactly the events of EVENTS.md, decoded with the shared contract models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rapport_common.events.feedback import OrsSubmitted
from rapport_common.events.intake import ClinicianAssigned, ClinicianRegistered, IntakeCompleted


def types_of(events: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(topic, type) in order within each topic: topics are not ordered against each other, so the
    intake.events records come first, then feedback.events."""
    order = {"intake.events": 0, "feedback.events": 1}
    ordered = sorted(events, key=lambda pair: order[pair[0]])  # stable: keeps each topic's own order
    return [(topic, event.type) for topic, event in ordered]


def on(events: list[tuple[str, Any]], topic: str) -> list[Any]:
    return [event for t, event in events if t == topic]


async def outbox_rows(intake: Any, subject: str) -> list[Any]:
    return await intake.pool.fetch("SELECT event_type, state FROM outbox WHERE key = $1 ORDER BY id", subject.encode())


async def test_clinician_registration_is_keyed_by_clinician(intake: Any, event_tap: Any, auth: Any, ids: Any) -> None:
    clinician_id, supervisor_id = ids("clin"), ids("sup")
    body = {
        "clinician_id": clinician_id,
        "display_name": "Dr. Ada Byrne",
        "timezone": "Europe/Dublin",
        "working_hours": [
            {"weekday": 1, "start": "08:00", "end": "12:00"},
            {"weekday": 1, "start": "12:00", "end": "24:00"},
        ],
        "supervisor_id": supervisor_id,
    }
    response = await intake.http.post("/clinicians", json=body, headers=auth("operator"))
    assert response.status_code == 201, response.text

    events = await event_tap.events_for(clinician_id, 1)
    assert types_of(events) == [("intake.events", "rapport.intake.clinician-registered")]
    event = events[0][1]
    assert isinstance(event, ClinicianRegistered)
    assert event.subject == clinician_id
    assert event.data.display_name == "Dr. Ada Byrne"
    assert event.data.timezone == "Europe/Dublin"
    assert event.data.supervisor_id == supervisor_id
    assert [h.model_dump() for h in event.data.working_hours] == body["working_hours"]
    assert [tuple(r) for r in await outbox_rows(intake, clinician_id)] == [
        ("rapport.intake.clinician-registered", "published")
    ]


async def test_supervisor_registers_into_own_team(intake: Any, event_tap: Any, auth: Any, ids: Any) -> None:
    supervisor_id, clinician_id = ids("sup"), ids("clin")
    body = {
        "clinician_id": clinician_id,
        "display_name": "Sam",
        "timezone": "UTC",
        "working_hours": [{"weekday": 4, "start": "09:00", "end": "17:00"}],
    }
    response = await intake.http.post("/clinicians", json=body, headers=auth("supervisor", supervisor_id))
    assert response.status_code == 201, response.text
    assert response.json()["supervisor_id"] == supervisor_id
    events = await event_tap.events_for(clinician_id, 1)
    assert [event.data.supervisor_id for _, event in events] == [supervisor_id]


async def test_onboarding_assigned_first_then_intake(
    intake: Any, event_tap: Any, auth: Any, register_clinician: Any, register_client: Any, assign: Any, intake_body: Any
) -> None:
    clinician = await register_clinician()
    client = await register_client(age_band="adolescent")
    client_id = client["client_id"]
    assigned = await assign(client_id, clinician["clinician_id"])
    assert assigned["changed"] is True and assigned["previous_clinician_id"] is None

    response = await intake.http.post(
        f"/clients/{client_id}/intake", json=intake_body(), headers=auth("client", client_id)
    )
    assert response.status_code == 201, response.text
    result = response.json()
    baseline = result["baseline_ors"]
    assert baseline["total"] == 20.8  # 5.5 + 6.0 + 4.2 + 5.1, computed by the service
    assert baseline["clinical_cutoff"] == 28.0  # adolescent
    assert baseline["below_cutoff"] is True
    assert result["baseline_published"] is True

    events = await event_tap.events_for(client_id, 4)
    assert types_of(events) == [
        ("intake.events", "rapport.intake.client-registered"),
        ("intake.events", "rapport.intake.clinician-assigned"),
        ("intake.events", "rapport.intake.completed"),
        ("feedback.events", "rapport.feedback.ors-submitted"),
    ]
    assigned_event, completed = on(events, "intake.events")[1:]
    (ors,) = on(events, "feedback.events")
    assert isinstance(assigned_event, ClinicianAssigned)
    assert assigned_event.data.clinician_id == clinician["clinician_id"]
    assert assigned_event.data.assigned_at == datetime.fromisoformat(assigned["assigned_at"])
    assert isinstance(completed, IntakeCompleted)
    assert completed.data.intake_id == result["intake_id"]
    assert completed.data.presenting_concerns == ["low mood", "sleep"]
    assert completed.data.goals == ["Get back to running with my sister", "Sleep through the night"]
    assert completed.data.baseline_ors is not None
    assert completed.data.baseline_ors.clinician_id == clinician["clinician_id"]
    assert isinstance(ors, OrsSubmitted)
    assert ors.data.session_id is None
    assert ors.data.clinician_id == clinician["clinician_id"]
    assert ors.data.response_id == completed.data.baseline_ors.response_id == baseline["response_id"]
    assert ors.data.total == 20.8 and ors.data.age_band == "adolescent"
    assert ors.time == completed.time
    assert all(event.traceparent for event in (assigned_event, completed, ors))  # stamped from the request span
    assert not event_tap.invalid


async def test_intake_before_assignment_publishes_baseline_at_first_assignment(
    intake: Any, event_tap: Any, auth: Any, register_clinician: Any, register_client: Any, assign: Any, intake_body: Any
) -> None:
    first, second = await register_clinician(), await register_clinician()
    client_id = (await register_client(age_band="child"))["client_id"]
    response = await intake.http.post(f"/clients/{client_id}/intake", json=intake_body(), headers=auth("service"))
    assert response.status_code == 201, response.text
    assert response.json()["baseline_published"] is False
    assert response.json()["baseline_ors"]["clinical_cutoff"] == 32.0

    events = await event_tap.events_for(client_id, 2)
    assert types_of(events) == [
        ("intake.events", "rapport.intake.client-registered"),
        ("intake.events", "rapport.intake.completed"),
    ]
    completed = events[1][1]
    assert completed.data.baseline_ors.clinician_id is None

    await assign(client_id, first["clinician_id"])
    await assign(client_id, second["clinician_id"])  # a reassignment does not publish the baseline again
    events = await event_tap.events_for(client_id, 5)
    assert types_of(events) == [
        ("intake.events", "rapport.intake.client-registered"),
        ("intake.events", "rapport.intake.completed"),
        ("intake.events", "rapport.intake.clinician-assigned"),
        ("intake.events", "rapport.intake.clinician-assigned"),
        ("feedback.events", "rapport.feedback.ors-submitted"),
    ]
    (ors,) = on(events, "feedback.events")
    assert ors.data.clinician_id == first["clinician_id"]
    assert ors.data.response_id == completed.data.baseline_ors.response_id
    assert ors.data.session_id is None
    assert ors.time == completed.time  # event time = when the client answered


async def test_intake_without_baseline_publishes_no_ors(
    intake: Any, event_tap: Any, auth: Any, register_clinician: Any, register_client: Any, assign: Any, intake_body: Any
) -> None:
    clinician = await register_clinician()
    client_id = (await register_client())["client_id"]
    await assign(client_id, clinician["clinician_id"])
    response = await intake.http.post(
        f"/clients/{client_id}/intake",
        json=intake_body(baseline_ors=None),
        headers=auth("clinician", clinician["clinician_id"]),
    )
    assert response.status_code == 201, response.text
    assert response.json()["baseline_ors"] is None
    events = await event_tap.events_for(client_id, 3)
    assert [t for _, t in types_of(events)] == [
        "rapport.intake.client-registered",
        "rapport.intake.clinician-assigned",
        "rapport.intake.completed",
    ]
    assert events[2][1].data.baseline_ors is None


async def test_reassignment_moves_the_client_between_caseloads(
    intake: Any, event_tap: Any, auth: Any, ids: Any, register_clinician: Any, register_client: Any, assign: Any
) -> None:
    supervisor_id = ids("sup")
    first = await register_clinician(supervisor_id=supervisor_id)
    second = await register_clinician(supervisor_id=supervisor_id)
    client_id = (await register_client())["client_id"]
    await assign(client_id, first["clinician_id"])

    # the supervisor of both moves the client
    response = await intake.http.post(
        f"/clients/{client_id}/assignments",
        json={"clinician_id": second["clinician_id"]},
        headers=auth("supervisor", supervisor_id),
    )
    assert response.status_code == 201, response.text
    assert response.json()["previous_clinician_id"] == first["clinician_id"]

    # assigning the same clinician again changes nothing and publishes nothing
    same = await assign(client_id, second["clinician_id"], expect=200)
    assert same["changed"] is False

    events = await event_tap.events_for(client_id, 3)
    assert [(e.type, getattr(e.data, "clinician_id", None)) for _, e in events] == [
        ("rapport.intake.client-registered", None),
        ("rapport.intake.clinician-assigned", first["clinician_id"]),
        ("rapport.intake.clinician-assigned", second["clinician_id"]),
    ]
    old = await intake.http.get(
        f"/clinicians/{first['clinician_id']}/caseload", headers=auth("clinician", first["clinician_id"])
    )
    new = await intake.http.get(
        f"/clinicians/{second['clinician_id']}/caseload", headers=auth("supervisor", supervisor_id)
    )
    assert old.status_code == new.status_code == 200
    assert old.json()["clients"] == []
    assert [c["client_id"] for c in new.json()["clients"]] == [client_id]

    # the former clinician lost access, the new one has it, with the assignment history
    lost = await intake.http.get(f"/clients/{client_id}/intake", headers=auth("clinician", first["clinician_id"]))
    assert lost.status_code == 403
    summary = await intake.http.get(f"/clients/{client_id}/intake", headers=auth("clinician", second["clinician_id"]))
    assert summary.status_code == 200, summary.text
    history = summary.json()["assignments"]
    assert [h["clinician_id"] for h in history] == [first["clinician_id"], second["clinician_id"]]
    assert history[0]["ended_at"] is not None and history[1]["ended_at"] is None


async def test_caseload_and_summary_content(
    intake: Any, auth: Any, register_clinician: Any, register_client: Any, assign: Any, intake_body: Any
) -> None:
    clinician = await register_clinician()
    clinician_id = clinician["clinician_id"]
    done = (await register_client(age_band="adult"))["client_id"]
    waiting = (await register_client(age_band="child"))["client_id"]
    await assign(done, clinician_id)
    await assign(waiting, clinician_id)
    high = {"individual": 7.0, "interpersonal": 7.0, "social": 6.0, "overall": 5.0}  # 25.0: not below 25
    r = await intake.http.post(f"/clients/{done}/intake", json=intake_body(baseline_ors=high), headers=auth("service"))
    assert r.status_code == 201, r.text
    assert r.json()["baseline_ors"]["below_cutoff"] is False

    caseload = await intake.http.get(f"/clinicians/{clinician_id}/caseload", headers=auth("clinician", clinician_id))
    assert caseload.status_code == 200
    rows = {row["client_id"]: row for row in caseload.json()["clients"]}
    assert rows[done]["intake_completed"] is True and rows[done]["baseline_ors_total"] == 25.0
    assert rows[done]["below_cutoff"] is False and rows[done]["clinical_cutoff"] == 25.0
    assert rows[waiting]["intake_completed"] is False and rows[waiting]["below_cutoff"] is None

    full = await intake.http.get(f"/clients/{done}/intake", headers=auth("clinician", clinician_id))
    redacted = await intake.http.get(f"/clients/{done}/intake", headers=auth("compliance"))
    assert full.status_code == redacted.status_code == 200
    assert full.json()["goals"] == intake_body()["goals"]
    assert full.json()["presenting_concerns"] == ["low mood", "sleep"]
    assert redacted.json()["goals"] is None and redacted.json()["presenting_concerns"] is None
    assert redacted.json()["intake"]["baseline_ors"]["total"] == 25.0
    assert redacted.json()["clinician_id"] == clinician_id


async def test_second_intake_is_refused(
    intake: Any, event_tap: Any, auth: Any, register_client: Any, intake_body: Any
) -> None:
    client_id = (await register_client())["client_id"]
    first = await intake.http.post(f"/clients/{client_id}/intake", json=intake_body(), headers=auth("service"))
    second = await intake.http.post(f"/clients/{client_id}/intake", json=intake_body(), headers=auth("service"))
    assert first.status_code == 201
    assert second.status_code == 409 and "client_id" in second.json()["detail"]
    events = await event_tap.events_for(client_id, 2)
    assert [e.type for _, e in events] == ["rapport.intake.client-registered", "rapport.intake.completed"]
