"""42 CFR 2.31: a `sud-part2-disclosure` grant missing any required element is refused, naming it, with
no consent, ledger entry or event left behind."""

from __future__ import annotations

from typing import Any

import pytest

SCOPE = "sud-part2-disclosure"


def without(part2: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in part2.items() if k not in names}


CASES = [
    ("no who may disclose", lambda p: without(p, "disclosing_party"), "body.part2.disclosing_party"),
    ("blank who may disclose", lambda p: p | {"disclosing_party": "   "}, "body.part2.disclosing_party"),
    ("no what information", lambda p: without(p, "information"), "body.part2.information"),
    ("no recipients", lambda p: without(p, "recipients"), "body.part2.recipients"),
    ("empty recipients", lambda p: p | {"recipients": []}, "body.part2.recipients"),
    ("no purpose", lambda p: without(p, "purpose"), "body.part2.purpose"),
    ("no expiry date or end event", lambda p: without(p, "expires_at", "end_event"), "body.part2.expires_at"),
    ("right to revoke not acknowledged", lambda p: without(p, "right_to_revoke_acknowledged"),
     "body.part2.right_to_revoke_acknowledged"),
    ("right to revoke false", lambda p: p | {"right_to_revoke_acknowledged": False},
     "body.part2.right_to_revoke_acknowledged"),
    ("redisclosure notice not acknowledged", lambda p: without(p, "redisclosure_notice_acknowledged"),
     "body.part2.redisclosure_notice_acknowledged"),
    ("redisclosure notice false", lambda p: p | {"redisclosure_notice_acknowledged": False},
     "body.part2.redisclosure_notice_acknowledged"),
    ("no elements at all", lambda p: None, "body.part2"),
]  # fmt: skip


async def _nothing_recorded(consent: Any, consent_tap: Any, client_id: str) -> None:
    assert await consent.pool.fetchval("SELECT count(*) FROM consents WHERE client_id = $1", client_id) == 0
    assert await consent.pool.fetchval("SELECT count(*) FROM ledger_entries WHERE client_id = $1", client_id) == 0
    assert await consent_tap.events_for(client_id, 1, timeout_s=0.3, settle_s=0.2) == []


@pytest.mark.parametrize(("case", "change", "field"), CASES, ids=[c[0] for c in CASES])
async def test_grant_missing_an_element_is_refused(consent, consent_tap, register, auth, part2, case, change, field):
    client_id, _ = await register("adult")
    body: dict[str, Any] = {"client_id": client_id, "scope": SCOPE}
    elements = change(dict(part2))
    if elements is not None:
        body["part2"] = elements
    response = await consent.http.post("/consents", json=body, headers=auth("client", client_id))
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    await _nothing_recorded(consent, consent_tap, client_id)


async def test_part2_must_be_written_not_verbal(consent, consent_tap, register, auth, part2, ids) -> None:
    client_id, clinician_id = await register("adult")
    response = await consent.http.post(
        "/consents",
        json={
            "client_id": client_id,
            "scope": SCOPE,
            "method": "verbal-witnessed",
            "consenter": {"actor_id": client_id, "role": "client"},
            "witness": {"actor_id": ids("staff"), "role": "staff"},
            "part2": part2,
        },
        headers=auth("clinician", clinician_id),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.method"
    await _nothing_recorded(consent, consent_tap, client_id)


async def test_complete_grant_is_accepted_and_expiry_date_becomes_valid_until(consent, register, auth, part2) -> None:
    client_id, _ = await register("adult")
    response = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": SCOPE, "part2": part2}, headers=auth("client", client_id)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["valid_until"].startswith("2031-01-01T00:00:00")
    assert body["part2"]["recipients"] == part2["recipients"]
    ledger = await consent.pool.fetchrow("SELECT details FROM ledger_entries WHERE client_id = $1", client_id)
    assert ledger["details"]["part2"]["purpose"] == part2["purpose"]


async def test_end_event_instead_of_a_date_is_accepted(consent, register, auth, part2) -> None:
    client_id, _ = await register("adult")
    elements = without(part2, "expires_at") | {"end_event": "discharge from the program"}
    response = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": SCOPE, "part2": elements}, headers=auth("client", client_id)
    )
    assert response.status_code == 201, response.text
    assert response.json()["valid_until"] is None


async def test_part2_elements_on_another_scope_are_refused(consent, register, auth, part2) -> None:
    client_id, _ = await register("adult")
    response = await consent.http.post(
        "/consents",
        json={"client_id": client_id, "scope": "research", "part2": part2},
        headers=auth("client", client_id),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.part2"
