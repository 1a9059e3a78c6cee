"""expire_due_consents without the worker: batches at the unit's now, each due consent expired once.

On a service of its own (``own_consent``): moving this test's clock a month ahead makes every consent of the
database due, which must not expire other tests' consents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_common.clock import ManualClock
from rapport_common.events.consent import ConsentExpired
from rapport_consent.schemas import GrantRequest
from rapport_consent.use_cases.expiries import JOB_ACTOR, ExpiredBatch, expire_due_consents
from rapport_consent.use_cases.grants import grant_consent


@pytest.fixture
def transactions(own_consent, clock: ManualClock) -> Transactions:
    return Transactions(own_consent.pool, clock)


async def test_due_consents_expire_in_batches_once_each(
    own_consent, transactions: Transactions, clock: ManualClock, known
) -> None:
    client_id, _ = await known("adult")  # in own_consent: ``known`` uses this module's ``transactions``
    until = clock.now() + timedelta(days=30)
    for scope in ("research", "session-recording", "measurement-feedback"):
        async with transactions.begin() as uow:
            await grant_consent(
                uow,
                principal=Principal(client_id, "client"),
                request=GrantRequest(client_id=client_id, scope=scope, valid_until=until),
                settings=own_consent.settings,
                request_id=None,
            )
    async with transactions.begin() as uow:  # nothing is due yet at the unit's now
        assert await expire_due_consents(uow, limit=2) == ExpiredBatch(expired=0, full=False)

    clock.set(until + timedelta(days=1))
    rounds = []
    for _ in range(3):
        async with transactions.begin() as uow:
            rounds.append(await expire_due_consents(uow, limit=2))
    assert rounds == [ExpiredBatch(2, full=True), ExpiredBatch(1, full=False), ExpiredBatch(0, full=False)]

    expiries = await own_consent.pool.fetch(
        "SELECT e.expired_at, e.recorded_at FROM consent_expiries e JOIN consents c USING (consent_id)"
        " WHERE c.client_id = $1",
        client_id,
    )
    assert [(e["expired_at"], e["recorded_at"]) for e in expiries] == [(until, clock.now())] * 3
    entries = await own_consent.pool.fetch(
        "SELECT actor_id FROM ledger_entries WHERE client_id = $1 AND action = 'consent.expired'", client_id
    )
    assert [e["actor_id"] for e in entries] == [JOB_ACTOR] * 3
    events = await own_consent.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE key = $1 AND event_type = $2",
        client_id.encode(),
        ConsentExpired.event_type(),
    )
    assert events == 3
    assert until > datetime.now(UTC)  # the service's own worker (wall clock) had nothing to do with these
