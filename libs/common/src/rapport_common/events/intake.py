"""`intake.events`: clinicians, clients, intake questionnaires, care assignment."""

from __future__ import annotations

from typing import ClassVar, Literal
from zoneinfo import available_timezones

from pydantic import AwareDatetime, Field, field_validator

from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import AgeBand, OrsItems, total_is_item_sum
from rapport_common.events.fields import HHMM, NonEmptyStr, ScaleTotal, must_follow
from rapport_common.events.payload import Payload

TOPIC = "intake.events"
_TIMEZONES = frozenset(available_timezones())


def _iana(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError(f"unknown IANA timezone {value!r}")
    return value


class WorkingHours(Payload):
    """One weekly interval ``[start, end)`` in the clinician's timezone; weekday 0 = Monday."""

    weekday: int = Field(ge=0, le=6)
    start: HHMM
    end: HHMM

    _order = field_validator("end")(must_follow("start"))


class ClinicianRegisteredData(Payload):
    clinician_id: NonEmptyStr
    display_name: NonEmptyStr
    timezone: str
    working_hours: list[WorkingHours]
    supervisor_id: NonEmptyStr | None = None

    _tz = field_validator("timezone")(_iana)


class ClientRegisteredData(Payload):
    client_id: NonEmptyStr
    age_band: AgeBand
    timezone: str

    _tz = field_validator("timezone")(_iana)


class BaselineOrs(Payload):
    """An ORS payload without ``session_id`` (the intake baseline)."""

    response_id: NonEmptyStr
    client_id: NonEmptyStr
    clinician_id: NonEmptyStr | None = None
    items: OrsItems
    total: ScaleTotal
    age_band: AgeBand

    _total = field_validator("total")(total_is_item_sum)


class IntakeCompletedData(Payload):
    client_id: NonEmptyStr
    intake_id: NonEmptyStr
    presenting_concerns: list[NonEmptyStr]
    goals: list[NonEmptyStr]
    baseline_ors: BaselineOrs | None = None


class ClinicianAssignedData(Payload):
    client_id: NonEmptyStr
    clinician_id: NonEmptyStr
    assigned_at: AwareDatetime


class ClinicianRegistered(CloudEvent[ClinicianRegisteredData]):
    """Keyed and subjected by the clinician id (it is about no client)."""

    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.intake.clinician-registered"] = "rapport.intake.clinician-registered"


class ClientRegistered(CloudEvent[ClientRegisteredData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.intake.client-registered"] = "rapport.intake.client-registered"


class IntakeCompleted(CloudEvent[IntakeCompletedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.intake.completed"] = "rapport.intake.completed"


class ClinicianAssigned(CloudEvent[ClinicianAssignedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.intake.clinician-assigned"] = "rapport.intake.clinician-assigned"


EVENTS = (ClinicianRegistered, ClientRegistered, IntakeCompleted, ClinicianAssigned)
