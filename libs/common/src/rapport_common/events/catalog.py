"""Every event type of the contract, its topic, and the discriminated union that validates any of them."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from rapport_common.events import alerts, consent, feedback, intake, session
from rapport_common.events.envelope import CloudEvent

EVENT_CLASSES: tuple[type[CloudEvent[Any]], ...] = (
    *intake.EVENTS,
    *consent.EVENTS,
    *session.EVENTS,
    *feedback.EVENTS,
    *alerts.EVENTS,
)

TOPIC_OF_TYPE: dict[str, str] = {cls.event_type(): cls.topic for cls in EVENT_CLASSES}

#: the five contract topics, in the order of EVENTS.md
TOPICS: tuple[str, ...] = (intake.TOPIC, consent.TOPIC, session.TOPIC, feedback.TOPIC, alerts.TOPIC)

_BY_TYPE: dict[str, type[CloudEvent[Any]]] = {cls.event_type(): cls for cls in EVENT_CLASSES}

AnyEvent = Annotated[Union[*EVENT_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]
ANY_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def event_class_for(event_type: str) -> type[CloudEvent[Any]]:
    """The envelope class of ``event_type``; KeyError when the contract has no such type."""
    return _BY_TYPE[event_type]


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}.dlq"
