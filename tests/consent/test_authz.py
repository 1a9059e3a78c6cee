"""Authorisation matrix: every role (and a client or clinician outside the relationship) against every
consent endpoint. Operators see counts only; compliance reads but never writes; supervisors see nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

WHO = (
    "client-self",
    "client-other",
    "clinician-assigned",
    "clinician-other",
    "supervisor",
    "compliance",
    "operator",
    "service",
    "anonymous",
)


@dataclass
class World:
    client_id: str
    clinician_id: str
    consent_id: str
    auditor_id: str


@pytest.fixture
async def world(consent, register, auth) -> World:
    client_id, clinician_id = await register("adult")
    response = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": "research"}, headers=auth("client", client_id)
    )
    assert response.status_code == 201
    return World(client_id, clinician_id, response.json()["consent_id"], f"auditor-{client_id}")


def headers_for(who: str, world: World, auth: Any, ids: Any) -> dict[str, str]:
    return {
        "client-self": lambda: auth("client", world.client_id),
        "client-other": lambda: auth("client", ids("client")),
        "clinician-assigned": lambda: auth("clinician", world.clinician_id),
        "clinician-other": lambda: auth("clinician", ids("clin")),
        "supervisor": lambda: auth("supervisor"),
        "compliance": lambda: auth("compliance", world.auditor_id),
        "operator": lambda: auth("operator"),
        "service": lambda: auth("service"),
        "anonymous": lambda: {},
    }[who]()


def grant_body(who: str, world: World, ids: Any) -> dict[str, Any]:
    """The body each caller would send for its own channel (so allowed callers succeed)."""
    body: dict[str, Any] = {"client_id": world.client_id, "scope": "message-scanning"}
    if who.startswith("clinician"):
        body |= {
            "method": "verbal-witnessed",
            "consenter": {"actor_id": world.client_id, "role": "client"},
            "witness": {"actor_id": ids("staff"), "role": "staff"},
        }
    if who == "service":
        body["consenter"] = {"actor_id": world.client_id, "role": "client"}
    return body


ALL_OK = dict.fromkeys(WHO[:-1], 200) | {"anonymous": 401}
READERS = {
    "client-self": 200,
    "client-other": 403,
    "clinician-assigned": 200,
    "clinician-other": 403,
    "supervisor": 403,
    "compliance": 200,
    "operator": 403,
    "service": 200,
    "anonymous": 401,
}
WRITERS = READERS | {"compliance": 403}
CHECKERS = dict.fromkeys(WHO, 403) | {"clinician-assigned": 200, "service": 200, "anonymous": 401}
COUNTS = dict.fromkeys(WHO, 403) | {"operator": 200, "compliance": 200, "anonymous": 401}
COMPLIANCE_ONLY = dict.fromkeys(WHO, 403) | {"compliance": 200, "anonymous": 401}

ENDPOINTS: dict[str, dict[str, int]] = {
    "GET /consents/documents": ALL_OK,
    "POST /consents": WRITERS | {"client-self": 201, "clinician-assigned": 201, "service": 201},
    "POST /consents/{id}/revoke": WRITERS,
    "GET /consents/check": CHECKERS,
    "GET /consents/{id}": READERS,
    "GET /clients/{client}/consents": READERS,
    "GET /consents/stats": COUNTS,
    "GET /compliance/ledger": COMPLIANCE_ONLY,
    "GET /compliance/ledger/verify": COMPLIANCE_ONLY,
    "GET /compliance/ledger/export.csv": COMPLIANCE_ONLY,
    "GET /compliance/export/fhir": COMPLIANCE_ONLY,
}
MATRIX = [(endpoint, who, expected[who]) for endpoint, expected in ENDPOINTS.items() for who in WHO]


@pytest.mark.parametrize(("endpoint", "who", "expected"), MATRIX, ids=[f"{e} as {w}" for e, w, _ in MATRIX])
async def test_authorisation(consent, world, auth, ids, endpoint, who, expected) -> None:
    headers = headers_for(who, world, auth, ids)
    method, _, template = endpoint.partition(" ")
    path = template.replace("{id}", world.consent_id).replace("{client}", world.client_id)
    params: dict[str, str] = {}
    body: dict[str, Any] | None = None
    if endpoint == "POST /consents":
        body = grant_body(who, world, ids)
    elif endpoint == "POST /consents/{id}/revoke":
        body = {"revoker": {"actor_id": world.client_id, "role": "client"}} if who == "service" else {}
    elif endpoint == "GET /consents/check":
        params = {"client_id": world.client_id, "scope": "research"}
    elif template.startswith("/compliance/"):
        params = {"client_id": world.client_id}
    count = "SELECT count(*) FROM ledger_entries WHERE $1::text IS NULL OR actor_id = $1"
    total_before = await consent.pool.fetchval(count, None)
    reads_before = await consent.pool.fetchval(count, world.auditor_id)
    response = await consent.http.request(method, path, params=params, json=body, headers=headers)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert await consent.pool.fetchval(count, None) == total_before, "a refused call leaves no ledger entry"
    elif who == "compliance" and endpoint not in ("GET /consents/documents", "GET /consents/stats"):
        assert await consent.pool.fetchval(count, world.auditor_id) == reads_before + 1, "compliance read ledgered"


async def test_operator_stats_carry_no_client_identifiers(consent, world, auth) -> None:
    response = await consent.http.get("/consents/stats", headers=auth("operator"))
    assert response.status_code == 200
    assert world.client_id not in response.text and world.consent_id not in response.text
    assert response.json()["active_by_scope"]["research"] >= 1


async def test_a_client_cannot_consent_as_someone_else(consent, world, auth, ids) -> None:
    response = await consent.http.post(
        "/consents",
        json={"client_id": world.client_id, "scope": "research", "consenter": {"actor_id": ids("x"), "role": "client"}},
        headers=auth("client", world.client_id),
    )
    assert response.status_code == 403


async def test_revoking_someone_elses_consent_is_forbidden_and_leaves_it_active(consent, world, auth, ids) -> None:
    response = await consent.http.post(
        f"/consents/{world.consent_id}/revoke", json={}, headers=auth("client", ids("client"))
    )
    assert response.status_code == 403
    check = await consent.http.get(
        "/consents/check", params={"client_id": world.client_id, "scope": "research"}, headers=auth("service")
    )
    assert check.json()["active"] is True


async def test_bad_tokens_are_refused(consent, world) -> None:
    from rapport_common.auth import issue_token

    for token in (
        "not-a-jwt",
        issue_token("another-secret-of-at-least-32-bytes!!", subject="x", role="service"),
        issue_token("consent-test-secret-of-at-least-32-bytes", subject="x", role="service", ttl_s=-10),
        issue_token("consent-test-secret-of-at-least-32-bytes", subject="x", role="service", audience="other"),
    ):
        response = await consent.http.get(
            "/consents/check",
            params={"client_id": world.client_id, "scope": "research"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
