"""Bad input gets a 4xx whose message names the field, and leaves no row and no event behind."""

from __future__ import annotations

from typing import Any

import pytest

HOURS = [{"weekday": 0, "start": "09:00", "end": "17:00"}]
CLINICIAN = {"display_name": "Dr. Bad Input", "timezone": "Europe/Paris", "working_hours": HOURS}
CLIENT = {"age_band": "adult", "timezone": "UTC"}
ORS = {"individual": 5.5, "interpersonal": 6.0, "social": 4.2, "overall": 5.1}
INTAKE = {"presenting_concerns": ["worry"], "goals": ["feel calmer at work"], "baseline_ors": ORS}


def ors(**items: Any) -> dict[str, Any]:
    return INTAKE | {"baseline_ors": ORS | items}


# (case id, path, body, status, field the message must name)
CASES: list[tuple[str, str, Any, int, str]] = [
    ("clinician-empty-name", "/clinicians", CLINICIAN | {"display_name": ""}, 422, "body.display_name"),
    ("clinician-blank-name", "/clinicians", CLINICIAN | {"display_name": "   "}, 422, "body.display_name"),
    ("clinician-name-control-char", "/clinicians", CLINICIAN | {"display_name": "Dr\nX"}, 422, "body.display_name"),
    ("clinician-unknown-timezone", "/clinicians", CLINICIAN | {"timezone": "Mars/Olympus"}, 422, "body.timezone"),
    ("clinician-offset-not-iana", "/clinicians", CLINICIAN | {"timezone": "+02:00"}, 422, "body.timezone"),
    ("clinician-no-hours", "/clinicians", CLINICIAN | {"working_hours": []}, 422, "body.working_hours"),
    (
        "clinician-weekday-7",
        "/clinicians",
        CLINICIAN | {"working_hours": [{"weekday": 7, "start": "09:00", "end": "10:00"}]},
        422,
        "body.working_hours.0.weekday",
    ),
    (
        "clinician-weekday-string",
        "/clinicians",
        CLINICIAN | {"working_hours": [{"weekday": "1", "start": "09:00", "end": "10:00"}]},
        422,
        "body.working_hours.0.weekday",
    ),
    (
        "clinician-start-not-hhmm",
        "/clinicians",
        CLINICIAN | {"working_hours": [{"weekday": 1, "start": "9:00", "end": "10:00"}]},
        422,
        "body.working_hours.0.start",
    ),
    (
        "clinician-end-before-start",
        "/clinicians",
        CLINICIAN | {"working_hours": [{"weekday": 1, "start": "17:00", "end": "09:00"}]},
        422,
        "body.working_hours.0.end",
    ),
    (
        "clinician-overlapping-hours",
        "/clinicians",
        CLINICIAN
        | {
            "working_hours": [
                {"weekday": 2, "start": "09:00", "end": "12:00"},
                {"weekday": 2, "start": "11:30", "end": "14:00"},
            ]
        },
        422,
        "body.working_hours",
    ),
    ("clinician-bad-id", "/clinicians", CLINICIAN | {"clinician_id": "has spaces"}, 422, "body.clinician_id"),
    (
        "clinician-supervises-self",
        "/clinicians",
        CLINICIAN | {"clinician_id": "self-sup-1", "supervisor_id": "self-sup-1"},
        422,
        "supervisor_id",
    ),
    ("clinician-unknown-field", "/clinicians", CLINICIAN | {"email": "a@b.c"}, 422, "body.email"),
    ("client-unknown-age-band", "/clients", CLIENT | {"age_band": "senior"}, 422, "body.age_band"),
    ("client-missing-timezone", "/clients", {"age_band": "adult"}, 422, "body.timezone"),
    ("client-bad-timezone", "/clients", CLIENT | {"timezone": "Europe/Atlantis"}, 422, "body.timezone"),
    ("client-name-refused", "/clients", CLIENT | {"name": "Jane Doe"}, 422, "body.name"),
    ("client-notes-refused", "/clients", CLIENT | {"notes": "anxious, recently divorced"}, 422, "body.notes"),
    ("client-empty-id", "/clients", CLIENT | {"client_id": ""}, 422, "body.client_id"),
    ("client-body-not-object", "/clients", ["adult"], 422, "body"),
    ("ors-item-above-10", "/clients/{client}/intake", ors(individual=10.1), 422, "body.baseline_ors.individual"),
    ("ors-item-negative", "/clients/{client}/intake", ors(social=-0.1), 422, "body.baseline_ors.social"),
    ("ors-item-two-decimals", "/clients/{client}/intake", ors(overall=5.55), 422, "body.baseline_ors.overall"),
    ("ors-item-string", "/clients/{client}/intake", ors(interpersonal="5.5"), 422, "body.baseline_ors.interpersonal"),
    ("ors-item-boolean", "/clients/{client}/intake", ors(individual=True), 422, "body.baseline_ors.individual"),
    ("ors-item-null", "/clients/{client}/intake", ors(individual=None), 422, "body.baseline_ors.individual"),
    ("ors-total-not-accepted", "/clients/{client}/intake", ors(total=20.8), 422, "body.baseline_ors.total"),
    (
        "ors-item-missing",
        "/clients/{client}/intake",
        INTAKE | {"baseline_ors": {k: v for k, v in ORS.items() if k != "overall"}},
        422,
        "body.baseline_ors.overall",
    ),
    (
        "intake-baseline-key-missing",
        "/clients/{client}/intake",
        {k: v for k, v in INTAKE.items() if k != "baseline_ors"},
        422,
        "body.baseline_ors",
    ),
    (
        "intake-no-concerns",
        "/clients/{client}/intake",
        INTAKE | {"presenting_concerns": []},
        422,
        "body.presenting_concerns",
    ),
    ("intake-duplicate-goals", "/clients/{client}/intake", INTAKE | {"goals": ["sleep", "Sleep"]}, 422, "body.goals"),
    ("intake-goal-too-long", "/clients/{client}/intake", INTAKE | {"goals": ["x" * 201]}, 422, "body.goals.0"),
    ("intake-goal-control-char", "/clients/{client}/intake", INTAKE | {"goals": ["ok\x00"]}, 422, "body.goals.0"),
    ("intake-unknown-client", "/clients/no-such-client/intake", INTAKE, 404, "client_id"),
    ("assign-unknown-clinician", "/clients/{client}/assignments", {"clinician_id": "nobody-1"}, 422, "clinician_id"),
    ("assign-missing-clinician", "/clients/{client}/assignments", {}, 422, "body.clinician_id"),
    ("assign-unknown-client", "/clients/no-such-client/assignments", {"clinician_id": "x-1"}, 404, "client_id"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_naming_the_field(
    intake: Any, auth: Any, register_client: Any, path: str, body: Any, status: int, field: str
) -> None:
    if "{client}" in path:
        path = path.format(client=(await register_client())["client_id"])
    outbox_before = await intake.pool.fetchval("SELECT count(*) FROM outbox")
    response = await intake.http.post(path, json=body, headers=auth("service"))
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert field in detail, detail
    if status == 422 and field.startswith("body"):
        assert any(error["field"].startswith(field) for error in response.json()["errors"])
    assert await intake.pool.fetchval("SELECT count(*) FROM outbox") == outbox_before


async def test_body_that_is_not_json(intake: Any, auth: Any) -> None:
    response = await intake.http.post(
        "/clients", content=b"{not json", headers=auth("service") | {"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "body" in response.json()["detail"]


async def test_duplicate_registration_conflicts(intake: Any, auth: Any, register_client: Any) -> None:
    client = await register_client()
    response = await intake.http.post(
        "/clients", json=CLIENT | {"client_id": client["client_id"]}, headers=auth("service")
    )
    assert response.status_code == 409
    assert "client_id" in response.json()["detail"]


async def test_idempotency_key_too_long(intake: Any, auth: Any) -> None:
    response = await intake.http.post("/clients", json=CLIENT, headers=auth("service") | {"Idempotency-Key": "k" * 201})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
