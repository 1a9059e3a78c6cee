"""Request and response bodies of the intake use cases: the routes declare them, a use case takes a request
and answers with a response whoever called it. Requests refuse unknown fields (``extra="forbid"``): intake
stores only what the platform needs, so a stray ``name`` or ``notes`` field is an error naming that field,
not silently kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rapport_common.events.fields import HHMM, ScaleItem, must_follow
from rapport_intake.domain.schedule import Interval, first_overlap, is_iana_timezone

AgeBand = Literal["adult", "adolescent", "child"]

#: ids come from the identity provider (a token's ``sub``) or are generated here as UUIDs
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$")]


def _no_control_characters(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


#: one line of text written by a person (display name, a concern, a goal)
TextLine = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
]
DisplayName = Annotated[TextLine, StringConstraints(max_length=100)]
#: strict: a number, never a numeric string or a boolean
StrictScaleItem = Annotated[ScaleItem, Field(strict=True)]


def _iana(value: str) -> str:
    if not is_iana_timezone(value):
        raise ValueError(f"unknown IANA timezone {value!r}")
    return value


Timezone = Annotated[str, AfterValidator(_iana)]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkingHoursIn(RequestBody):
    weekday: int = Field(strict=True, ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    start: HHMM
    end: HHMM

    _order = field_validator("end")(must_follow("start"))


class ClinicianIn(RequestBody):
    clinician_id: Identifier | None = Field(default=None, description="the identity provider's id; generated if absent")
    display_name: DisplayName
    timezone: Timezone
    working_hours: list[WorkingHoursIn] = Field(min_length=1, max_length=50)
    supervisor_id: Identifier | None = None

    @field_validator("working_hours")
    @classmethod
    def _no_overlap(cls, hours: list[WorkingHoursIn]) -> list[WorkingHoursIn]:
        clash = first_overlap([Interval(h.weekday, h.start, h.end) for h in hours])
        if clash is not None:
            earlier, later = clash
            raise ValueError(f"interval {later} overlaps interval {earlier} on the same weekday")
        return hours


class ClientIn(RequestBody):
    client_id: Identifier | None = Field(default=None, description="the identity provider's id; generated if absent")
    age_band: AgeBand
    timezone: Timezone


class OrsItemsIn(RequestBody):
    """The four ORS items, 0.0-10.0 with at most one decimal. The total is computed by the service."""

    individual: StrictScaleItem
    interpersonal: StrictScaleItem
    social: StrictScaleItem
    overall: StrictScaleItem


def _distinct(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value.casefold() in seen:
            raise ValueError(f"item {index} repeats an earlier item")
        seen.add(value.casefold())
    return values


class IntakeIn(RequestBody):
    presenting_concerns: Annotated[list[TextLine], Field(min_length=1, max_length=20), AfterValidator(_distinct)]
    goals: Annotated[
        list[TextLine],
        Field(min_length=1, max_length=10, description="the client's own words"),
        AfterValidator(_distinct),
    ]
    baseline_ors: OrsItemsIn | None = Field(description="required; null when the client declined the baseline")


class AssignmentIn(RequestBody):
    clinician_id: Identifier


class ClinicianOut(BaseModel):
    clinician_id: str
    display_name: str
    timezone: str
    working_hours: list[WorkingHoursIn]
    supervisor_id: str | None
    registered_at: datetime


class ClientOut(BaseModel):
    client_id: str
    age_band: AgeBand
    timezone: str
    registered_at: datetime


class BaselineOut(BaseModel):
    response_id: str
    items: OrsItemsIn
    total: float
    age_band: AgeBand
    clinical_cutoff: float = Field(description="the age band's ORS clinical cutoff")
    below_cutoff: bool = Field(description="total below the cutoff: in the clinical range at intake")


class IntakeOut(BaseModel):
    intake_id: str
    client_id: str
    completed_at: datetime
    baseline_ors: BaselineOut | None
    baseline_published: bool = Field(description="false until a clinician is assigned (ors-submitted needs one)")


class AssignmentOut(BaseModel):
    client_id: str
    clinician_id: str
    assigned_at: datetime
    previous_clinician_id: str | None
    changed: bool = Field(description="false when the client was already assigned to this clinician")


class CaseloadEntry(BaseModel):
    client_id: str
    age_band: AgeBand
    timezone: str
    assigned_at: datetime
    intake_completed: bool
    baseline_ors_total: float | None
    clinical_cutoff: float
    below_cutoff: bool | None


class CaseloadOut(BaseModel):
    clinician_id: str
    clients: list[CaseloadEntry]


class AssignmentRecord(BaseModel):
    clinician_id: str
    assigned_at: datetime
    ended_at: datetime | None


class IntakeSummaryOut(BaseModel):
    """Compliance gets this without ``presenting_concerns`` and ``goals`` (null): they are clinical content."""

    client_id: str
    age_band: AgeBand
    timezone: str
    registered_at: datetime
    clinician_id: str | None
    assignments: list[AssignmentRecord]
    intake: IntakeOut | None
    presenting_concerns: list[str] | None
    goals: list[str] | None
