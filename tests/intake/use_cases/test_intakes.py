"""complete_intake and read_intake_summary without HTTP: what is stored and published, and who is refused."""

from __future__ import annotations

from typing import Any

import pytest

from rapport_common.auth import Principal
from rapport_common.refusal import Refusal
from rapport_intake.schemas import AssignmentIn, ClientIn, ClinicianIn, IntakeIn
from rapport_intake.use_cases import assignments, clients, clinicians, intakes

SERVICE = Principal("svc", "service")
HOURS = [{"weekday": 0, "start": "09:00", "end": "17:00"}]
ORS = {"individual": 5.5, "interpersonal": 6.0, "social": 4.2, "overall": 5.1}  # 20.8


def questionnaire(baseline: dict[str, float] | None = ORS) -> IntakeIn:
    return IntakeIn(presenting_concerns=["worry"], goals=["sleep through the night"], baseline_ors=baseline)


async def new_client(uow: Any, ids: Any, age_band: str = "adult") -> str:
    request = ClientIn(client_id=ids("client"), age_band=age_band, timezone="UTC")
    return str((await clients.register_client(uow, principal=SERVICE, request=request)).body["client_id"])


async def new_clinician(uow: Any, ids: Any) -> str:
    request = ClinicianIn(clinician_id=ids("clin"), display_name="Dr. U", timezone="UTC", working_hours=HOURS)
    return str((await clinicians.register_clinician(uow, principal=SERVICE, request=request)).body["clinician_id"])


async def test_intake_of_an_assigned_client_publishes_the_baseline_now(uow: Any, ids: Any, published: Any) -> None:
    client_id, clinician_id = await new_client(uow, ids, "adolescent"), await new_clinician(uow, ids)
    await assignments.assign_clinician(
        uow, principal=SERVICE, client_id=client_id, request=AssignmentIn(clinician_id=clinician_id)
    )
    outcome = await intakes.complete_intake(uow, principal=SERVICE, client_id=client_id, request=questionnaire())
    assert outcome.status_code == 201 and not outcome.replayed
    assert outcome.body["baseline_ors"]["total"] == 20.8 and outcome.body["baseline_ors"]["clinical_cutoff"] == 28.0
    assert outcome.body["baseline_published"] is True
    completed, ors = (await published(uow, client_id))[2:]
    assert completed.type == "rapport.intake.completed" and completed.time == uow.now
    assert ors.type == "rapport.feedback.ors-submitted" and ors.time == uow.now
    assert ors.data.clinician_id == clinician_id and ors.data.total == 20.8
    row = await uow.conn.fetchrow("SELECT * FROM intakes WHERE client_id = $1", client_id)
    assert (row["ors_total_tenths"], row["baseline_clinician_id"], row["completed_at"]) == (208, clinician_id, uow.now)


async def test_declined_baseline_publishes_no_ors(uow: Any, ids: Any, published: Any) -> None:
    client_id, clinician_id = await new_client(uow, ids), await new_clinician(uow, ids)
    request = AssignmentIn(clinician_id=clinician_id)
    await assignments.assign_clinician(uow, principal=SERVICE, client_id=client_id, request=request)
    outcome = await intakes.complete_intake(uow, principal=SERVICE, client_id=client_id, request=questionnaire(None))
    assert outcome.body["baseline_ors"] is None and outcome.body["baseline_published"] is False
    events = await published(uow, client_id)
    assert [e.type for e in events][-1] == "rapport.intake.completed" and events[-1].data.baseline_ors is None


async def test_second_intake_conflicts(uow: Any, ids: Any) -> None:
    client_id = await new_client(uow, ids)
    await intakes.complete_intake(uow, principal=SERVICE, client_id=client_id, request=questionnaire())
    with pytest.raises(Refusal) as refused:
        await intakes.complete_intake(uow, principal=SERVICE, client_id=client_id, request=questionnaire())
    assert (refused.value.status, refused.value.field) == (409, "client_id")


async def test_unknown_client_is_a_404_only_for_roles_working_across_all_clients(uow: Any, ids: Any) -> None:
    """Anyone else gets the very refusal a client not theirs would get: an id's existence is not revealed."""
    stranger = Principal(ids("clin"), "clinician")
    existing = await new_client(uow, ids)

    async def refusal(principal: Principal, client_id: str) -> tuple[int, str, str]:
        with pytest.raises(Refusal) as refused:
            await intakes.complete_intake(uow, principal=principal, client_id=client_id, request=questionnaire())
        return refused.value.status, refused.value.field, refused.value.message

    assert (await refusal(SERVICE, ids("nobody")))[:2] == (404, "client_id")
    assert await refusal(stranger, ids("nobody")) == await refusal(stranger, existing)
    assert (await refusal(stranger, existing))[:2] == (403, "client_id")
    other_client = Principal(ids("client"), "client")
    assert await refusal(other_client, ids("nobody")) == await refusal(other_client, existing)
    with pytest.raises(Refusal) as summary:
        await intakes.read_intake_summary(uow, principal=Principal("q", "compliance"), client_id=ids("nobody"))
    assert summary.value.status == 404


async def test_summary_hides_the_clients_words_from_compliance(uow: Any, ids: Any) -> None:
    client_id, clinician_id = await new_client(uow, ids), await new_clinician(uow, ids)
    request = AssignmentIn(clinician_id=clinician_id)
    await assignments.assign_clinician(uow, principal=SERVICE, client_id=client_id, request=request)
    await intakes.complete_intake(uow, principal=SERVICE, client_id=client_id, request=questionnaire())
    full = await intakes.read_intake_summary(uow, principal=Principal(clinician_id, "clinician"), client_id=client_id)
    redacted = await intakes.read_intake_summary(uow, principal=Principal("q", "compliance"), client_id=client_id)
    assert full.goals == ["sleep through the night"] and full.presenting_concerns == ["worry"]
    assert redacted.goals is None and redacted.presenting_concerns is None
    assert redacted.intake == full.intake and full.intake is not None and full.intake.baseline_published
    with pytest.raises(Refusal) as refused:
        await intakes.read_intake_summary(uow, principal=Principal(ids("clin"), "clinician"), client_id=client_id)
    assert (refused.value.status, refused.value.field) == (403, "client_id")
