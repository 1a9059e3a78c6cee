"""Reads without HTTP: the check and the consent reads decide access with rapport_common.access, and a
compliance read is ledgered before it is served."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_common.refusal import Refusal
from rapport_consent.schemas import GrantRequest
from rapport_consent.use_cases import queries
from rapport_consent.use_cases.grants import grant_consent


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


async def _reads_by(consent, auditor: str) -> int:
    return await consent.pool.fetchval(
        "SELECT count(*) FROM ledger_entries WHERE actor_id = $1 AND action = 'compliance.read'", auditor
    )


async def test_the_check_answers_the_clinician_of_record_and_services_only(
    consent, transactions: Transactions, known, ids
) -> None:
    client_id, clinician_id = await known("adult")
    consent_id = await _granted(consent, transactions, client_id)
    now = transactions.clock.now()
    for caller in (Principal(clinician_id, "clinician"), Principal("session", "service")):
        answer = await queries.check_consent(
            consent.pool, principal=caller, client_id=client_id, scope="research", at=now
        )
        assert (answer["active"], answer["consent_id"]) == (True, consent_id)
    before = await queries.check_consent(
        consent.pool, principal=Principal("session", "service"), client_id=client_id, scope="research",
        at=now - timedelta(minutes=1),
    )  # fmt: skip
    assert (before["active"], before["consent_id"]) == (False, None)
    with pytest.raises(Refusal) as refused:
        await queries.check_consent(
            consent.pool, principal=Principal(ids("clin"), "clinician"), client_id=client_id, scope="research", at=now
        )
    assert (refused.value.status, refused.value.field) == (403, "client_id")


async def test_a_compliance_read_is_ledgered_and_a_refused_read_is_not(
    consent, transactions: Transactions, known, ids
) -> None:
    client_id, _ = await known("adult")
    consent_id = await _granted(consent, transactions, client_id)
    auditor, now = ids("auditor"), transactions.clock.now()
    view = await queries.read_consent(
        transactions, principal=Principal(auditor, "compliance"), consent_id=consent_id, at=now, request_id="r-a"
    )
    assert view["state"] == "active"
    assert await _reads_by(consent, auditor) == 1
    point = await queries.consents_at(
        transactions, principal=Principal(auditor, "compliance"), client_id=client_id, at=now, request_id="r-b"
    )
    assert point["active_scopes"] == ["research"]
    assert await _reads_by(consent, auditor) == 2
    with pytest.raises(Refusal) as refused:
        await queries.read_consent(
            transactions, principal=Principal(ids("client"), "client"), consent_id=consent_id, at=now, request_id="r"
        )
    assert (refused.value.status, refused.value.field) == (403, "client_id")
