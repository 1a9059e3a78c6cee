"""Use cases driven without HTTP: a unit of work on the consent service's database with a manual clock, and
clients made known to the intake view through its own handlers (no broker round trip)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from rapport_common.application.unit_of_work import Transactions
from rapport_common.clock import ManualClock
from rapport_common.events import new_event
from rapport_common.events.intake import (
    ClientRegistered,
    ClientRegisteredData,
    ClinicianAssigned,
    ClinicianAssignedData,
)
from rapport_common.projections import intake_view

Known = Callable[..., Awaitable[tuple[str, str]]]


@pytest.fixture
def clock() -> ManualClock:
    """The use cases' "now": the wall clock's at the start of the test (grants refuse backdating), then moved
    only by the test."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def transactions(consent, clock: ManualClock) -> Transactions:
    return Transactions(consent.pool, clock)


async def _make_known(transactions: Transactions, ids: Callable[[str], str], age_band: str) -> tuple[str, str]:
    client_id, clinician_id = ids("client"), ids("clin")
    registered = new_event(
        ClientRegistered,
        subject=client_id,
        source="/rapport/intake",
        data=ClientRegisteredData(client_id=client_id, age_band=age_band, timezone="Europe/Berlin"),
    )
    assigned = new_event(
        ClinicianAssigned,
        subject=client_id,
        source="/rapport/intake",
        data=ClinicianAssignedData(
            client_id=client_id, clinician_id=clinician_id, assigned_at=transactions.clock.now()
        ),
    )
    async with transactions.begin() as uow:
        await intake_view.client_registered(uow, registered)
        await intake_view.clinician_assigned(uow, assigned)
    return client_id, clinician_id


@pytest.fixture
def known(transactions: Transactions, ids: Callable[[str], str]) -> Known:
    """``client_id, clinician_id = await known("adult")``: a client the intake view knows, with a clinician."""
    return lambda age_band="adult": _make_known(transactions, ids, age_band)
