"""`session.events`: scheduling, the live session lifecycle, telemetry and messaging flags."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from rapport_common.events.envelope import CloudEvent
from rapport_common.events.fields import NonEmptyStr, Ratio, must_follow
from rapport_common.events.payload import Payload

TOPIC = "session.events"

Participant = Literal["client", "clinician"]
MessageFlag = Literal["off-platform-contact", "payment-request", "social-media"]


class SessionData(Payload):
    session_id: NonEmptyStr
    client_id: NonEmptyStr
    clinician_id: NonEmptyStr


class SessionScheduledData(SessionData):
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime
    modality: Literal["video", "audio", "chat"]

    _order = field_validator("scheduled_end")(must_follow("scheduled_start"))


class SessionStartedData(SessionData):
    started_at: AwareDatetime


class ParticipantData(SessionData):
    participant: Participant
    at: AwareDatetime


class TelemetryData(SessionData):
    window_start: AwareDatetime
    window_end: AwareDatetime
    client_talk_ratio: Ratio
    client_camera_on_ratio: Ratio
    longest_silence_s: float = Field(ge=0.0, le=86400.0)

    _order = field_validator("window_end")(must_follow("window_start"))

    @field_validator("longest_silence_s")
    @classmethod
    def _silence_fits_window(cls, value: float, info: ValidationInfo) -> float:
        start, end = info.data.get("window_start"), info.data.get("window_end")
        if start is not None and end is not None and value > (end - start).total_seconds() + 1e-6:
            raise ValueError("cannot exceed the window length")
        return value


class OverrunData(SessionData):
    scheduled_end: AwareDatetime
    minutes_over: int = Field(ge=0)


class SessionEndedData(SessionData):
    started_at: AwareDatetime
    ended_at: AwareDatetime
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime
    ended_by: NonEmptyStr

    _ended_after_start = field_validator("ended_at")(must_follow("started_at"))
    _scheduled_order = field_validator("scheduled_end")(must_follow("scheduled_start"))


class SessionCancelledData(SessionData):
    scheduled_start: AwareDatetime
    cancelled_at: AwareDatetime
    cancelled_by: Participant
    late: bool


class NoShowData(SessionData):
    scheduled_start: AwareDatetime


class MessageSentData(Payload):
    """No ``session_id`` and never the message text: flags only."""

    message_id: NonEmptyStr
    client_id: NonEmptyStr
    clinician_id: NonEmptyStr
    sender: Participant
    sent_at: AwareDatetime
    flags: list[MessageFlag] = Field(default_factory=list)


class RecordingStartedData(SessionData):
    started_at: AwareDatetime


class SessionScheduled(CloudEvent[SessionScheduledData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.scheduled"] = "rapport.session.scheduled"


class SessionStarted(CloudEvent[SessionStartedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.started"] = "rapport.session.started"


class ParticipantJoined(CloudEvent[ParticipantData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.participant-joined"] = "rapport.session.participant-joined"


class ParticipantLeft(CloudEvent[ParticipantData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.participant-left"] = "rapport.session.participant-left"


class SessionTelemetry(CloudEvent[TelemetryData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.telemetry"] = "rapport.session.telemetry"


class SessionOverrun(CloudEvent[OverrunData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.overrun"] = "rapport.session.overrun"


class SessionEnded(CloudEvent[SessionEndedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.ended"] = "rapport.session.ended"


class SessionCancelled(CloudEvent[SessionCancelledData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.cancelled"] = "rapport.session.cancelled"


class SessionNoShow(CloudEvent[NoShowData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.no-show"] = "rapport.session.no-show"


class MessageSent(CloudEvent[MessageSentData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.message-sent"] = "rapport.session.message-sent"


class RecordingStarted(CloudEvent[RecordingStartedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.session.recording-started"] = "rapport.session.recording-started"


EVENTS = (
    SessionScheduled,
    SessionStarted,
    ParticipantJoined,
    ParticipantLeft,
    SessionTelemetry,
    SessionOverrun,
    SessionEnded,
    SessionCancelled,
    SessionNoShow,
    MessageSent,
    RecordingStarted,
)
