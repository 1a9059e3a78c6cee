"""Bad input: a clear 4xx naming the field, and no damage (no consent, no ledger entry, no event)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

NOW = datetime.now(UTC)
SOON = (NOW + timedelta(hours=1)).isoformat()
LATER = (NOW + timedelta(days=1)).isoformat()
PAST = (NOW - timedelta(days=1)).isoformat()

# (case, method, path, params/body changes, expected status, field named)
GRANT = [
    ("unknown scope", {"scope": "astrology"}, 422, "body.scope"),
    ("missing client_id", {"client_id": None}, 422, "body.client_id"),
    ("blank client_id", {"client_id": "   "}, 422, "body.client_id"),
    ("unknown method", {"method": "carrier-pigeon"}, 422, "body.method"),
    ("naive valid_from", {"valid_from": "2030-01-01T10:00:00"}, 422, "body.valid_from"),
    ("valid_until before valid_from", {"valid_from": LATER, "valid_until": SOON}, 422, "body.valid_until"),
    ("valid_until equal to valid_from", {"valid_from": SOON, "valid_until": SOON}, 422, "body.valid_until"),
    ("backdated valid_from", {"valid_from": PAST}, 422, "body.valid_from"),
    ("valid_until in the past", {"valid_until": PAST}, 422, "body.valid_until"),
    ("unknown field", {"colour": "blue"}, 422, "body.colour"),
    ("unknown document version", {"document_version": "99"}, 422, "body.document_version"),
    ("witness on an e-signature", {"witness": {"actor_id": "w-1", "role": "staff"}}, 422, "body.witness"),
    ("consenter with unknown role", {"consenter": {"actor_id": "x", "role": "parent"}}, 422, "body.consenter.role"),
    ("not a date", {"valid_until": "next tuesday"}, 422, "body.valid_until"),
    ("scope as a number", {"scope": 7}, 422, "body.scope"),
]
REVOKE = [
    ("effective_at not a date", {"effective_at": "soon"}, 422, "body.effective_at"),
    ("backdated effective_at", {"effective_at": PAST}, 422, "body.effective_at"),
    ("reason too long", {"reason": "x" * 501}, 422, "body.reason"),
    ("unknown field", {"undo": True}, 422, "body.undo"),
    ("revoker with unknown role", {"revoker": {"actor_id": "x", "role": "admin"}}, 422, "body.revoker.role"),
]
CHECK = [
    ("unknown scope", {"scope": "astrology"}, 422, "query.scope"),
    ("missing client_id", {"client_id": None}, 422, "query.client_id"),
    ("naive at", {"at": "2030-01-01T10:00:00"}, 422, "query.at"),
    ("at not a date", {"at": "yesterday"}, 422, "query.at"),
]
LEDGER = [
    ("misspelt filter", {"clientid": "c"}, 422, "query.clientid"),
    ("until before since", {"since": LATER, "until": SOON}, 422, "query.until"),
    ("limit zero", {"limit": 0}, 422, "query.limit"),
    ("unknown action", {"action": "consent.deleted"}, 422, "query.action"),
    ("negative cursor", {"after_seq": -1}, 422, "query.after_seq"),
]


async def _state(consent: Any) -> tuple[int, int, int]:
    row = await consent.pool.fetchrow(
        """SELECT (SELECT count(*) FROM consents) AS c, (SELECT count(*) FROM consent_revocations) AS r,
                  (SELECT count(*) FROM ledger_entries) AS l"""
    )
    return row["c"], row["r"], row["l"]


def _named(response: Any, field: str) -> None:
    body = response.json()
    fields = [e["field"] for e in body.get("errors", [])]
    assert field in fields or body["detail"].startswith(field), body


@pytest.mark.parametrize(("case", "change", "status", "field"), GRANT, ids=[c[0] for c in GRANT])
async def test_bad_grant(consent, consent_tap, register, auth, case, change, status, field) -> None:
    client_id, _ = await register("adult")
    body = {"client_id": client_id, "scope": "research"} | change
    body = {k: v for k, v in body.items() if v is not None}
    before = await _state(consent)
    response = await consent.http.post("/consents", json=body, headers=auth("client", client_id))
    assert response.status_code == status, response.text
    _named(response, field)
    assert await _state(consent) == before
    assert await consent_tap.events_for(client_id, 1, timeout_s=0.2, settle_s=0.1) == []


@pytest.mark.parametrize(("case", "change", "status", "field"), REVOKE, ids=[c[0] for c in REVOKE])
async def test_bad_revoke(consent, register, auth, case, change, status, field) -> None:
    client_id, _ = await register("adult")
    me = auth("client", client_id)
    granted = await consent.http.post("/consents", json={"client_id": client_id, "scope": "research"}, headers=me)
    before = await _state(consent)
    headers = auth("service") if "revoker" in change else me
    response = await consent.http.post(f"/consents/{granted.json()['consent_id']}/revoke", json=change, headers=headers)
    assert response.status_code == status, response.text
    _named(response, field)
    assert await _state(consent) == before


@pytest.mark.parametrize(("case", "change", "status", "field"), CHECK, ids=[c[0] for c in CHECK])
async def test_bad_check(consent, auth, ids, case, change, status, field) -> None:
    params = {k: v for k, v in ({"client_id": ids("client"), "scope": "research"} | change).items() if v is not None}
    response = await consent.http.get("/consents/check", params=params, headers=auth("service"))
    assert response.status_code == status, response.text
    _named(response, field)


@pytest.mark.parametrize(("case", "params", "status", "field"), LEDGER, ids=[c[0] for c in LEDGER])
async def test_bad_ledger_query(consent, auth, case, params, status, field) -> None:
    before = await _state(consent)
    response = await consent.http.get("/compliance/ledger", params=params, headers=auth("compliance"))
    assert response.status_code == status, response.text
    _named(response, field)
    assert await _state(consent) == before, "a refused query is not served, so not ledgered either"


async def test_unknown_consent_is_404(consent, auth, ids) -> None:
    response = await consent.http.post(f"/consents/{ids('nope')}/revoke", json={}, headers=auth("service"))
    # the service must name the revoker; an unknown consent is reported first
    assert response.status_code == 404
    assert response.json()["detail"].startswith("consent_id")


async def test_oversized_idempotency_key_is_refused(consent, register, auth) -> None:
    client_id, _ = await register("adult")
    before = await _state(consent)
    response = await consent.http.post(
        "/consents",
        json={"client_id": client_id, "scope": "research"},
        headers=auth("client", client_id) | {"Idempotency-Key": "k" * 201},
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert await _state(consent) == before


async def test_revoke_after_the_consent_ended_is_a_conflict(consent, register, auth) -> None:
    client_id, _ = await register("adult")
    me = auth("client", client_id)
    until = datetime.now(UTC) + timedelta(seconds=30)
    granted = await consent.http.post(
        "/consents", json={"client_id": client_id, "scope": "research", "valid_until": until.isoformat()}, headers=me
    )
    response = await consent.http.post(
        f"/consents/{granted.json()['consent_id']}/revoke",
        json={"effective_at": (until + timedelta(seconds=1)).isoformat()},
        headers=me,
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith("body.effective_at")
    assert "retry-after" not in response.headers  # a permanent conflict: no invitation to retry
