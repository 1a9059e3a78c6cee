"""grant_consent without HTTP: its "now" is the unit of work's, its effects commit together or not at all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rapport_common.application.unit_of_work import Idempotency, Transactions
from rapport_common.auth import Principal
from rapport_common.clock import ManualClock
from rapport_common.events.consent import ConsentGranted
from rapport_common.refusal import Refusal
from rapport_consent.schemas import GrantRequest
from rapport_consent.use_cases.grants import grant_consent


async def _effects(consent, client_id: str) -> tuple[int, int, list[str]]:
    row = await consent.pool.fetchrow(
        """SELECT (SELECT count(*) FROM consents WHERE client_id = $1) AS consents,
                  (SELECT count(*) FROM ledger_entries WHERE client_id = $1) AS entries""",
        client_id,
    )
    types = await consent.pool.fetch("SELECT event_type FROM outbox WHERE key = $1 ORDER BY id", client_id.encode())
    return row["consents"], row["entries"], [r["event_type"] for r in types]


async def test_a_grant_is_recorded_at_the_units_now_with_its_event_and_ledger_entry(
    consent, transactions: Transactions, clock: ManualClock, known
) -> None:
    client_id, _ = await known("adult")
    clock.advance(timedelta(seconds=7))  # not the wall clock's now: the use case reads only the unit's
    request = GrantRequest(client_id=client_id, scope="research")
    async with transactions.begin() as uow:
        outcome = await grant_consent(
            uow, principal=Principal(client_id, "client"), request=request, settings=consent.settings, request_id="r-1"
        )
    assert outcome.status_code == 201 and not outcome.replayed
    assert outcome.body["state"] == "active"
    stored = await consent.pool.fetchrow(
        "SELECT valid_from, recorded_at FROM consents WHERE consent_id = $1", outcome.body["consent_id"]
    )
    assert stored["valid_from"] == stored["recorded_at"] == clock.now()
    assert await _effects(consent, client_id) == (1, 1, [ConsentGranted.event_type()])
    entry = await consent.pool.fetchrow(
        "SELECT action, request_id, details FROM ledger_entries WHERE client_id = $1", client_id
    )
    assert (entry["action"], entry["request_id"]) == ("consent.granted", "r-1")
    assert entry["details"]["age_band"] == "adult"


async def test_a_refused_grant_leaves_no_consent_no_event_and_no_ledger_entry(
    consent, transactions: Transactions, known
) -> None:
    client_id, _ = await known("adolescent")
    request = GrantRequest(client_id=client_id, scope="research")  # a minor's own signature: not enough
    with pytest.raises(Refusal) as refused:
        async with transactions.begin() as uow:
            await grant_consent(
                uow,
                principal=Principal(client_id, "client"),
                request=request,
                settings=consent.settings,
                request_id=None,
            )
    assert (refused.value.status, refused.value.field) == (422, "body.consenter.role")
    assert await _effects(consent, client_id) == (0, 0, [])


async def test_a_clinician_records_consent_only_for_a_client_of_record(
    consent, transactions: Transactions, known, ids
) -> None:
    client_id, clinician_id = await known("adult")
    body = {
        "client_id": client_id,
        "scope": "session-recording",
        "method": "verbal-witnessed",
        "consenter": {"actor_id": client_id, "role": "client"},
        "witness": {"actor_id": ids("staff"), "role": "staff"},
    }
    with pytest.raises(Refusal) as refused:
        async with transactions.begin() as uow:
            await grant_consent(
                uow,
                principal=Principal(ids("clin"), "clinician"),
                request=GrantRequest.model_validate(body),
                settings=consent.settings,
                request_id=None,
            )
    assert (refused.value.status, refused.value.field) == (403, "body.client_id")
    async with transactions.begin() as uow:
        outcome = await grant_consent(
            uow,
            principal=Principal(clinician_id, "clinician"),
            request=GrantRequest.model_validate(body),
            settings=consent.settings,
            request_id=None,
        )
    assert outcome.body["granted_by"] == {"actor_id": clinician_id, "role": "clinician"}


async def test_an_idempotent_grant_is_answered_from_its_first_outcome(
    consent, transactions: Transactions, known
) -> None:
    client_id, _ = await known("adult")
    principal = Principal(client_id, "client")
    request = GrantRequest(client_id=client_id, scope="measurement-feedback")
    outcomes = [
        await transactions.command(
            lambda uow: grant_consent(
                uow, principal=principal, request=request, settings=consent.settings, request_id=None
            ),
            idempotent=Idempotency("consent.grant", principal, "k-1", request.model_dump(mode="json")),
        )
        for _ in range(2)
    ]
    assert [o.replayed for o in outcomes] == [False, True]
    assert outcomes[0].body == outcomes[1].body
    assert await _effects(consent, client_id) == (1, 1, [ConsentGranted.event_type()])
