"""assign_clinician without HTTP: the unchanged answer, teams, and the baseline published at the first
assignment with the time the client answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rapport_common.auth import Principal
from rapport_common.refusal import Refusal
from rapport_intake.schemas import AssignmentIn, ClientIn, ClinicianIn, IntakeIn
from rapport_intake.use_cases import assignments, clients, clinicians, intakes

ANSWERED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SERVICE = Principal("svc", "service")
HOURS = [{"weekday": 0, "start": "09:00", "end": "17:00"}]
ORS = {"individual": 5.5, "interpersonal": 6.0, "social": 4.2, "overall": 5.1}


def questionnaire() -> IntakeIn:
    return IntakeIn(presenting_concerns=["worry"], goals=["sleep through the night"], baseline_ors=ORS)


async def new_client(uow: Any, ids: Any, age_band: str = "adult") -> str:
    request = ClientIn(client_id=ids("client"), age_band=age_band, timezone="UTC")
    return str((await clients.register_client(uow, principal=SERVICE, request=request)).body["client_id"])


async def new_clinician(uow: Any, ids: Any, supervisor_id: str | None = None) -> str:
    request = ClinicianIn(
        clinician_id=ids("clin"), display_name="Dr. U", timezone="UTC", working_hours=HOURS, supervisor_id=supervisor_id
    )
    return str((await clinicians.register_clinician(uow, principal=SERVICE, request=request)).body["clinician_id"])


async def assign(uow: Any, principal: Principal, client_id: str, clinician_id: str) -> Any:
    request = AssignmentIn(clinician_id=clinician_id)
    return await assignments.assign_clinician(uow, principal=principal, client_id=client_id, request=request)


async def test_baseline_waits_for_the_first_assignment_and_keeps_the_answer_time(
    units: Any, ids: Any, published: Any
) -> None:
    """Published once, at the first assignment, with the time the client answered (not the assignment's)."""
    async with units(ANSWERED) as uow:
        client_id, first, second = await new_client(uow, ids, "child"), *[await new_clinician(uow, ids) for _ in "ab"]
        outcome = await intakes.complete_intake(uow, principal=SERVICE, client_id=client_id, request=questionnaire())
        assert outcome.body["baseline_published"] is False
        assert [e.type for e in await published(uow, client_id)][1:] == ["rapport.intake.completed"]
    for days, clinician_id in ((1, first), (2, second)):
        async with units(ANSWERED + timedelta(days=days)) as uow:
            request = AssignmentIn(clinician_id=clinician_id)
            await assignments.assign_clinician(uow, principal=SERVICE, client_id=client_id, request=request)
    events = await published(uow, client_id)
    assert [e.type for e in events][2:] == [
        "rapport.intake.clinician-assigned",
        "rapport.feedback.ors-submitted",
        "rapport.intake.clinician-assigned",
    ]
    assert events[3].time == ANSWERED and events[3].data.clinician_id == first
    assert events[2].time == events[2].data.assigned_at == ANSWERED + timedelta(days=1)


async def test_the_same_clinician_again_is_200_unchanged_and_publishes_nothing(
    units: Any, ids: Any, published: Any
) -> None:
    async with units(ANSWERED) as uow:
        client_id, clinician_id = await new_client(uow, ids), await new_clinician(uow, ids)
        first = await assign(uow, SERVICE, client_id, clinician_id)
    async with units(ANSWERED + timedelta(hours=1)) as uow:
        again = await assign(uow, SERVICE, client_id, clinician_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.body == first.body | {"previous_clinician_id": None, "changed": False}
    assert [e.type for e in await published(uow, client_id)][1:] == ["rapport.intake.clinician-assigned"]


async def test_a_supervisor_moves_clients_only_within_their_team(uow: Any, ids: Any) -> None:
    supervisor = Principal(ids("sup"), "supervisor")
    mine, also_mine = (
        await new_clinician(uow, ids, supervisor.subject),
        await new_clinician(uow, ids, supervisor.subject),
    )
    theirs = await new_clinician(uow, ids, ids("sup"))
    client_id = await new_client(uow, ids)
    with pytest.raises(Refusal) as into_another_team:  # no clinician yet: the new one's team decides
        await assign(uow, supervisor, client_id, theirs)
    assert (into_another_team.value.status, into_another_team.value.field) == (403, "clinician_id")
    assert (await assign(uow, supervisor, client_id, mine)).status_code == 201
    assert (await assign(uow, supervisor, client_id, also_mine)).status_code == 201
    await assign(uow, SERVICE, client_id, theirs)
    with pytest.raises(Refusal) as out_of_another_team:
        await assign(uow, supervisor, client_id, mine)
    assert (out_of_another_team.value.status, out_of_another_team.value.field) == (403, "clinician_id")
    with pytest.raises(Refusal) as unknown:
        await assign(uow, SERVICE, client_id, ids("nobody"))
    assert (unknown.value.status, unknown.value.field) == (422, "body.clinician_id")
