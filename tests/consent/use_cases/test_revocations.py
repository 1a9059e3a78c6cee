"""revoke_consent without HTTP: who may revoke, a revocation at the unit's now, once only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_common.clock import ManualClock
from rapport_common.refusal import Refusal
from rapport_consent.schemas import GrantRequest, Party, RevokeRequest
from rapport_consent.use_cases.grants import grant_consent
from rapport_consent.use_cases.revocations import revoke_consent


async def _granted(consent, transactions: Transactions, client_id: str) -> str:
    async with transactions.begin() as uow:
        outcome = await grant_consent(
            uow,
            principal=Principal(client_id, "client"),
            request=GrantRequest(client_id=client_id, scope="research"),
            settings=consent.settings,
            request_id=None,
        )
    return str(outcome.body["consent_id"])


async def _revoke(consent, transactions: Transactions, principal: Principal, consent_id: str, **request) -> dict:
    async with transactions.begin() as uow:
        outcome = await revoke_consent(
            uow,
            principal=principal,
            consent_id=consent_id,
            request=RevokeRequest(**request),
            settings=consent.settings,
            request_id=None,
        )
    assert outcome.status_code == 200
    return dict(outcome.body)


def _refusal(excinfo: pytest.ExceptionInfo[Refusal]) -> tuple[int, str]:
    return excinfo.value.status, excinfo.value.field


async def test_only_the_client_the_clinician_of_record_or_the_signing_service_revokes(
    consent, transactions: Transactions, known, ids
) -> None:
    client_id, _ = await known("adult")
    consent_id = await _granted(consent, transactions, client_id)
    with pytest.raises(Refusal) as other_client:
        await _revoke(consent, transactions, Principal(ids("client"), "client"), consent_id)
    with pytest.raises(Refusal) as other_clinician:
        await _revoke(consent, transactions, Principal(ids("clin"), "clinician"), consent_id)
    with pytest.raises(Refusal) as unnamed:
        await _revoke(consent, transactions, Principal("signing-portal", "service"), consent_id)
    with pytest.raises(Refusal) as as_someone_else:
        other = Party(actor_id=ids("client"), role="client")
        await _revoke(consent, transactions, Principal(client_id, "client"), consent_id, revoker=other)
    assert [_refusal(e) for e in (other_client, other_clinician, unnamed, as_someone_else)] == [
        (403, "consent_id"),
        (403, "consent_id"),
        (422, "body.revoker"),
        (403, "body.revoker"),
    ]
    assert (
        await consent.pool.fetchval("SELECT count(*) FROM consent_revocations WHERE consent_id = $1", consent_id) == 0
    )


async def test_a_revocation_takes_effect_at_the_units_now_and_only_once(
    consent, transactions: Transactions, clock: ManualClock, known
) -> None:
    client_id, clinician_id = await known("adult")
    consent_id = await _granted(consent, transactions, client_id)
    clock.advance(timedelta(minutes=5))
    revoked = await _revoke(consent, transactions, Principal(clinician_id, "clinician"), consent_id, reason="asked")
    assert revoked["state"] == "revoked"
    assert revoked["revocation"]["revoked_by"] == {"actor_id": clinician_id, "role": "clinician"}
    effective_at = await consent.pool.fetchval(
        "SELECT effective_at FROM consent_revocations WHERE consent_id = $1", consent_id
    )
    assert effective_at == clock.now()
    with pytest.raises(Refusal) as again:
        await _revoke(consent, transactions, Principal(client_id, "client"), consent_id)
    assert _refusal(again) == (409, "consent_id")
    actions = await consent.pool.fetch(
        "SELECT action FROM ledger_entries WHERE consent_id = $1 ORDER BY seq", consent_id
    )
    assert [a["action"] for a in actions] == ["consent.granted", "consent.revoked"]


async def test_an_unknown_consent_is_not_found(consent, transactions: Transactions, ids) -> None:
    with pytest.raises(Refusal) as refused:
        await _revoke(consent, transactions, Principal("signing-portal", "service"), ids("nope"))
    assert _refusal(refused) == (404, "consent_id")
