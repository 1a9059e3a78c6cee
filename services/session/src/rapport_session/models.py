"""Request and response bodies: what the API parses and answers, what the use cases take and give.

Unknown fields are refused so a typo never passes silently. Feedback carries items only: totals and
subscales are computed by the service, never taken from a request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rapport_common.events.fields import ScaleItem

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


# feedback


class SrsItemsIn(Body):
    relationship: ScaleItem
    goals_topics: ScaleItem
    approach_method: ScaleItem
    overall: ScaleItem


class OrsItemsIn(Body):
    individual: ScaleItem
    interpersonal: ScaleItem
    social: ScaleItem
    overall: ScaleItem


class SrsRequest(Body):
    items: SrsItemsIn
    comment: str | None = Field(default=None, max_length=2000)


class OrsRequest(Body):
    items: OrsItemsIn


class PulseRequest(Body):
    question: Literal["felt-heard", "on-track"]
    score: int = Field(ge=1, le=5, strict=True)


class WaiRequest(Body):
    items: list[Annotated[int, Field(ge=1, le=5, strict=True)]] = Field(min_length=12, max_length=12)


class FeedbackResult(BaseModel):
    response_id: str
    instrument: str
    total: float | int | None = None
    subscales: dict[str, int] | None = None


# messages


class MessageRequest(Body):
    client_id: Id = Field(description="the client of the conversation (a client may omit it: themself)")
    body: str = Field(min_length=1)


class MessageView(BaseModel):
    message_id: str
    sender: str
    sent_at: datetime
    body: str | None = None


# telemetry

MAX_WINDOW_S = 600

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class TelemetryWindow(Body):
    session_id: Id
    window_start: AwareDatetime
    window_end: AwareDatetime
    client_talk_ratio: Ratio
    client_camera_on_ratio: Ratio
    longest_silence_s: float = Field(ge=0.0)

    @model_validator(mode="after")
    def _window(self) -> TelemetryWindow:
        length = (self.window_end - self.window_start).total_seconds()
        if length <= 0:
            raise ValueError("window_end must be after window_start")
        if length > MAX_WINDOW_S:
            raise ValueError(f"window_end: a window lasts at most {MAX_WINDOW_S} s")
        if self.longest_silence_s > length + 1e-6:
            raise ValueError("longest_silence_s cannot exceed the window length")
        return self


class TelemetryBatch(Body):
    windows: list[TelemetryWindow] = Field(min_length=1)


class TelemetryResult(Body):
    accepted: int
    duplicates: int
    dropped_no_consent: int
