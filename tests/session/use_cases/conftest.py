"""Use cases driven directly (no HTTP, no broker): a migrated session database per test, a manual clock,
and the intake view filled through its own handlers. Events are read back from the outbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_common.clock import ManualClock
from rapport_common.db.migrations import apply_migrations
from rapport_common.db.pool import create_pool
from rapport_common.events.envelope import new_event
from rapport_common.events.intake import ClinicianAssigned, ClinicianAssignedData
from rapport_common.projections import intake_view
from rapport_session.app import SPEC
from rapport_session.consent_client import ConsentClient
from rapport_session.models import ScheduleRequest
from rapport_session.settings import SessionSettings
from rapport_session.use_cases import sessions

#: the tests' clock starts here and only moves forward
T0 = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)


class Consents(ConsentClient):
    """The consent client with fixed answers: ``active`` clients have every scope."""

    def __init__(self, active: Iterable[str] = ()) -> None:
        super().__init__(base_url="http://consent.invalid", check_path="/", timeout_s=1, cache_ttl_s=0, jwt_secret=None)
        self.active = set(active)

    async def active_clients(self, client_ids: Iterable[str], scope: str) -> set[str]:
        return set(client_ids) & self.active


@dataclass
class World:
    transactions: Transactions
    clock: ManualClock
    settings: SessionSettings

    @property
    def pool(self) -> asyncpg.Pool:
        return self.transactions.pool

    async def pair(self) -> tuple[str, str]:
        """A fresh client assigned (through the intake view's handler) to a fresh clinician."""
        client_id, clinician_id = f"client-{uuid.uuid4().hex[:8]}", f"clinician-{uuid.uuid4().hex[:8]}"
        data = ClinicianAssignedData(client_id=client_id, clinician_id=clinician_id, assigned_at=self.clock.now())
        event = new_event(
            ClinicianAssigned, subject=client_id, source="/rapport/intake", time=self.clock.now(), data=data
        )
        async with self.transactions.begin() as uow:
            await intake_view.clinician_assigned(uow, event)
        return client_id, clinician_id

    async def book(self, client_id: str, clinician_id: str) -> str:
        """A session of the pair, booked by the clinician two days ahead; returns its id."""
        start = self.clock.now() + timedelta(days=2)
        request = ScheduleRequest(
            client_id=client_id, scheduled_start=start, scheduled_end=start + timedelta(minutes=50)
        )
        async with self.transactions.begin() as uow:
            outcome = await sessions.schedule_session(
                uow, principal=Principal(clinician_id, "clinician"), request=request, settings=self.settings
            )
        assert outcome.status_code == 201
        return str(outcome.body["session_id"])

    def consents(self, *active: str) -> Consents:
        return Consents(active)

    async def event_types(self, client_id: str) -> list[str]:
        """The types of the events enqueued about ``client_id``, in order, without the ``rapport.`` prefix."""
        rows = await self.pool.fetch("SELECT event_type FROM outbox WHERE key = $1 ORDER BY id", client_id.encode())
        return [row["event_type"].removeprefix("rapport.") for row in rows]


@pytest.fixture
async def world(make_database: Callable[..., Awaitable[str]]) -> AsyncIterator[World]:
    url = await make_database("session_uc")
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, SPEC.name, SPEC.migrations)
    finally:
        await conn.close()
    pool = await create_pool(url)
    clock = ManualClock(T0)
    try:
        yield World(Transactions(pool, clock), clock, SessionSettings(database_url=url))
    finally:
        await pool.close()
