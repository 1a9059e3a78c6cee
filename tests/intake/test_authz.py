"""The authorisation matrix, through the real routes: every action against every kind of caller.

World: supervisor S supervises clinicians A and A2; clinician B has another supervisor; client C is
assigned to A. Operators see no client data, compliance reads summaries only, clinicians see their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from rapport_common.auth import issue_token


@dataclass
class World:
    supervisor: str
    a: str
    a2: str
    b: str
    client: str


@pytest.fixture
async def world(ids: Any, register_clinician: Any, register_client: Any, assign: Any) -> World:
    supervisor = ids("sup")
    a = (await register_clinician(supervisor_id=supervisor))["clinician_id"]
    a2 = (await register_clinician(supervisor_id=supervisor))["clinician_id"]
    b = (await register_clinician(supervisor_id=ids("other-sup")))["clinician_id"]
    client = (await register_client())["client_id"]
    await assign(client, a)
    return World(supervisor, a, a2, b, client)


def caller_headers(who: str, world: World, auth: Any, ids: Any, secret: str) -> dict[str, str]:
    """``who`` names a caller of the world: ``role`` or ``role:which``; also anonymous and bad tokens."""
    subjects = {
        "supervisor:S": ("supervisor", world.supervisor),
        "supervisor:other": ("supervisor", ids("sup")),
        "clinician:A": ("clinician", world.a),
        "clinician:B": ("clinician", world.b),
        "client:C": ("client", world.client),
        "client:other": ("client", ids("client")),
    }
    if who == "anonymous":
        return {}
    if who == "expired":
        return {"Authorization": "Bearer " + issue_token(secret, subject=world.a, role="clinician", ttl_s=-60)}
    if who == "wrong-audience":
        token = issue_token(secret, subject=world.a, role="clinician", audience="someone-else")
        return {"Authorization": "Bearer " + token}
    if who == "forged":
        return {"Authorization": "Bearer " + issue_token("not-the-secret-" * 3, subject=world.a, role="service")}
    role, subject = subjects.get(who, (who, None))
    return dict(auth(role, subject))


def request_for(action: str, world: World, ids: Any, intake_body: Any) -> tuple[str, str, Any]:
    if action == "register-clinician":
        body = {
            "display_name": "New",
            "timezone": "UTC",
            "working_hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
        }
        return "POST", "/clinicians", body | {"supervisor_id": world.supervisor}
    if action == "register-client":
        return "POST", "/clients", {"age_band": "adult", "timezone": "UTC", "client_id": ids("client")}
    if action == "assign":
        return "POST", f"/clients/{world.client}/assignments", {"clinician_id": world.a2}
    if action == "complete-intake":
        return "POST", f"/clients/{world.client}/intake", intake_body()
    if action == "read-caseload":
        return "GET", f"/clinicians/{world.a}/caseload", None
    if action == "read-summary":
        return "GET", f"/clients/{world.client}/intake", None
    raise AssertionError(action)


ALLOWED = {
    "register-clinician": {"operator": 201, "service": 201, "supervisor:S": 201},
    "register-client": {"clinician:A": 201, "clinician:B": 201, "service": 201},
    "assign": {"service": 201, "supervisor:S": 201},
    "complete-intake": {"client:C": 201, "clinician:A": 201, "service": 201},
    "read-caseload": {"clinician:A": 200, "supervisor:S": 200, "service": 200},
    "read-summary": {"clinician:A": 200, "compliance": 200},
}
CALLERS = [
    "operator",
    "service",
    "compliance",
    "supervisor:S",
    "supervisor:other",
    "clinician:A",
    "clinician:B",
    "client:C",
    "client:other",
]
UNAUTHENTICATED = ["anonymous", "expired", "wrong-audience", "forged"]
MATRIX = [(action, who, ALLOWED[action].get(who, 403)) for action in ALLOWED for who in CALLERS]
MATRIX += [(action, who, 401) for action in ALLOWED for who in UNAUTHENTICATED]


@pytest.mark.parametrize(("action", "who", "expected"), MATRIX, ids=[f"{a}-{w}-{e}" for a, w, e in MATRIX])
async def test_authorisation_matrix(
    intake: Any,
    world: World,
    auth: Any,
    ids: Any,
    intake_body: Any,
    jwt_secret: str,
    action: str,
    who: str,
    expected: int,
) -> None:
    method, path, body = request_for(action, world, ids, intake_body)
    headers = caller_headers(who, world, auth, ids, jwt_secret)
    response = await intake.http.request(method, path, json=body, headers=headers)
    assert response.status_code == expected, response.text
    if expected in (401, 403):
        assert response.json()["detail"]


async def test_refused_writes_leave_no_trace(intake: Any, world: World, auth: Any, intake_body: Any) -> None:
    """A 403 rolls back: no intake row, no outbox row for the client."""
    before = await intake.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", world.client.encode())
    response = await intake.http.post(
        f"/clients/{world.client}/intake", json=intake_body(), headers=auth("clinician", world.b)
    )
    assert response.status_code == 403
    assert await intake.pool.fetchval("SELECT count(*) FROM intakes WHERE client_id = $1", world.client) == 0
    after = await intake.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", world.client.encode())
    assert after == before


async def test_supervisor_cannot_move_a_client_out_of_another_team(
    intake: Any, auth: Any, ids: Any, register_clinician: Any, register_client: Any, assign: Any
) -> None:
    supervisor = ids("sup")
    mine = (await register_clinician(supervisor_id=supervisor))["clinician_id"]
    theirs = (await register_clinician(supervisor_id=ids("sup")))["clinician_id"]
    client = (await register_client())["client_id"]
    await assign(client, theirs)
    response = await intake.http.post(
        f"/clients/{client}/assignments", json={"clinician_id": mine}, headers=auth("supervisor", supervisor)
    )
    assert response.status_code == 403


async def test_supervisor_cannot_register_into_another_team(intake: Any, auth: Any, ids: Any) -> None:
    body = {"display_name": "X", "timezone": "UTC", "working_hours": [{"weekday": 0, "start": "09:00", "end": "10:00"}]}
    response = await intake.http.post(
        "/clinicians", json=body | {"supervisor_id": ids("sup")}, headers=auth("supervisor", ids("sup"))
    )
    assert response.status_code == 403
    assert "supervisor_id" in response.json()["detail"]
