"""CloudEvents 1.0 envelope shared by every Rapport event type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rapport_common.events.fields import NonEmptyStr

PayloadT = TypeVar("PayloadT", bound=BaseModel)
EventT = TypeVar("EventT", bound="CloudEvent[Any]")


class CloudEvent(BaseModel, Generic[PayloadT]):
    """Structured-mode CloudEvent. Subclasses fix ``type`` (a Literal) and ``data`` (a payload model).

    Unknown attributes are ignored (tolerant reader); known ones are validated strictly.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    #: the Kafka topic this event type belongs to; set by each concrete subclass
    topic: ClassVar[str]

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version; required on the wire")
    id: NonEmptyStr = Field(description="unique event id (UUID string); consumers deduplicate on it")
    source: NonEmptyStr = Field(description="producing service, e.g. /rapport/session")
    type: str
    subject: NonEmptyStr = Field(description="the client id the event is about (also the record key)")
    time: AwareDatetime = Field(strict=True, description="RFC 3339 timestamp with offset: when it happened")
    datacontenttype: Literal["application/json"] | None = "application/json"
    dataschema: str | None = None
    traceparent: str | None = None
    data: PayloadT

    @classmethod
    def event_type(cls) -> str:
        """The literal value of ``type`` for this concrete event class (cached: it is on the hot path)."""
        try:
            return _EVENT_TYPES[cls]
        except KeyError:
            _EVENT_TYPES[cls] = str(cls.__pydantic_fields__["type"].default)
            return _EVENT_TYPES[cls]


_EVENT_TYPES: dict[type, str] = {}


def new_event(
    event_cls: type[EventT],
    *,
    subject: str,
    source: str,
    data: BaseModel,
    time: datetime | None = None,
    event_id: str | None = None,
    traceparent: str | None = None,
) -> EventT:
    """Build a new event of ``event_cls`` with a fresh UUID id and the contract's dataschema."""
    event_type = event_cls.event_type()
    return event_cls(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        time=time or datetime.now(UTC),
        dataschema=f"urn:rapport:schema:{event_type}:1",
        traceparent=traceparent,
        data=data,
    )
