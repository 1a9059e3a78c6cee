"""Request and response bodies. Unknown fields are refused so a typo never passes silently."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:@-]+$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleRequest(Body):
    client_id: Id
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime
    modality: Literal["video", "audio", "chat"] = "video"
    session_id: Id | None = Field(default=None, description="optional client-chosen id (else a UUID)")

    @model_validator(mode="after")
    def _order(self) -> ScheduleRequest:
        check_times(self.scheduled_start, self.scheduled_end)
        return self


class RescheduleRequest(Body):
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime

    @model_validator(mode="after")
    def _order(self) -> RescheduleRequest:
        check_times(self.scheduled_start, self.scheduled_end)
        return self


MAX_SESSION_MINUTES = 240


def check_times(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValueError("scheduled_end must be after scheduled_start")
    if (end - start).total_seconds() > MAX_SESSION_MINUTES * 60:
        raise ValueError(f"scheduled_end: a session lasts at most {MAX_SESSION_MINUTES} minutes")


class ParticipantRequest(Body):
    """``participant`` is needed only when the ``service`` role acts on someone's behalf."""

    participant: Literal["client", "clinician"] | None = None


class SessionView(BaseModel):
    session_id: str
    client_id: str
    clinician_id: str
    modality: str
    status: str
    scheduled_start: datetime
    scheduled_end: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    late: bool | None = None
    no_show_at: datetime | None = None
    client_present: bool = False
    clinician_present: bool = False
    recording_started_at: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> SessionView:
        return cls(**{name: row[name] for name in cls.model_fields})
