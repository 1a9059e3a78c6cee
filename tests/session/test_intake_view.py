"""The intake view the session service decides by: the latest fact by event time wins, whatever the arrival.

Regression: before the shared intake view, session kept the age band of the registration that arrived
last, so a redelivered or late older ``client-registered`` event switched the client's ORS form back.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from rapport_common.events import encode_event
from rapport_common.events.envelope import new_event
from rapport_common.events.intake import (
    ClientRegistered,
    ClientRegisteredData,
    ClinicianAssigned,
    ClinicianAssignedData,
)
from rapport_common.projections import intake_view


def _registered(client_id: str, age_band: str, at: datetime) -> ClientRegistered:
    data = ClientRegisteredData(client_id=client_id, age_band=age_band, timezone="Europe/Berlin")
    return new_event(ClientRegistered, subject=client_id, source="/rapport/intake", time=at, data=data)


def _assigned(client_id: str, clinician_id: str, at: datetime) -> ClinicianAssigned:
    data = ClinicianAssignedData(client_id=client_id, clinician_id=clinician_id, assigned_at=at)
    return new_event(ClinicianAssigned, subject=client_id, source="/rapport/intake", time=at, data=data)


async def test_an_older_registration_arriving_later_does_not_overwrite_the_age_band(svc: Any) -> None:
    client_id, clinician_id = f"client-{uuid.uuid4().hex[:10]}", f"clinician-{uuid.uuid4().hex[:10]}"
    now = svc.clock.now()
    # the newer registration arrives first, the older one after it; the assignment (same client, so the same
    # partition, consumed in order) marks the moment both registrations have been applied
    for event in (
        _registered(client_id, "adolescent", now),
        _registered(client_id, "child", now - timedelta(days=30)),
        _assigned(client_id, clinician_id, now),
    ):
        await svc.producer.send(encode_event(event))
    deadline = asyncio.get_running_loop().time() + 30
    while (await intake_view.client_facts(svc.pool, client_id)).clinician_id != clinician_id:
        assert asyncio.get_running_loop().time() < deadline, "intake events not applied in 30 s"
        await asyncio.sleep(0.05)
    facts = await intake_view.client_facts(svc.pool, client_id)
    assert facts.age_band == "adolescent"
