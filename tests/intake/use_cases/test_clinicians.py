"""register_clinician and read_caseload without HTTP: teams, the clock, and the order of refusals."""

from __future__ import annotations

from typing import Any

import pytest

from rapport_common.auth import Principal
from rapport_common.refusal import Refusal
from rapport_intake.schemas import ClinicianIn
from rapport_intake.use_cases import clinicians

HOURS = [{"weekday": 2, "start": "08:00", "end": "12:00"}]


def registration(clinician_id: str, supervisor_id: str | None = None) -> ClinicianIn:
    return ClinicianIn(
        clinician_id=clinician_id,
        display_name="Dr. T",
        timezone="UTC",
        working_hours=HOURS,
        supervisor_id=supervisor_id,
    )


async def test_a_supervisor_registers_into_their_own_team_at_the_units_now(uow: Any, ids: Any, published: Any) -> None:
    supervisor, clinician_id = Principal(ids("sup"), "supervisor"), ids("clin")
    outcome = await clinicians.register_clinician(uow, principal=supervisor, request=registration(clinician_id))
    assert outcome.status_code == 201
    assert outcome.body["supervisor_id"] == supervisor.subject
    assert outcome.body["registered_at"] == uow.now.isoformat().replace("+00:00", "Z")
    (event,) = await published(uow, clinician_id)
    assert event.time == uow.now and event.data.supervisor_id == supervisor.subject
    caseload = await clinicians.read_caseload(uow, principal=supervisor, clinician_id=clinician_id)
    assert caseload.clients == []


async def test_registration_refusals(uow: Any, ids: Any) -> None:
    async def refusal(principal: Principal, request: ClinicianIn) -> tuple[int, str]:
        with pytest.raises(Refusal) as refused:
            await clinicians.register_clinician(uow, principal=principal, request=request)
        return refused.value.status, refused.value.field

    supervisor, operator, taken = Principal(ids("sup"), "supervisor"), Principal("op", "operator"), ids("clin")
    assert await refusal(supervisor, registration(ids("clin"), ids("sup"))) == (403, "supervisor_id")
    assert await refusal(operator, registration("self-1", "self-1")) == (422, "body.supervisor_id")
    await clinicians.register_clinician(uow, principal=operator, request=registration(taken))
    assert await refusal(operator, registration(taken)) == (409, "clinician_id")


async def test_caseload_refusals_keep_their_order(uow: Any, ids: Any) -> None:
    """A clinician asking for another's caseload is refused before the lookup (403, even for an unknown id);
    a supervisor learns an unknown id (404) and is refused another team's clinician (403)."""

    async def refusal(principal: Principal, clinician_id: str) -> tuple[int, str]:
        with pytest.raises(Refusal) as refused:
            await clinicians.read_caseload(uow, principal=principal, clinician_id=clinician_id)
        return refused.value.status, refused.value.field

    known = ids("clin")
    await clinicians.register_clinician(uow, principal=Principal("op", "operator"), request=registration(known, "s1"))
    assert await refusal(Principal(ids("clin"), "clinician"), ids("nobody")) == (403, "clinician_id")
    assert await refusal(Principal("s1", "supervisor"), ids("nobody")) == (404, "clinician_id")
    assert await refusal(Principal("s2", "supervisor"), known) == (403, "clinician_id")
    assert (
        await clinicians.read_caseload(uow, principal=Principal(known, "clinician"), clinician_id=known)
    ).clients == []
