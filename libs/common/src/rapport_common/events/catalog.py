"""Every event type of the contract, its topic and the topic's owner, and the discriminated union that
validates any of them."""

from __future__ import annotations

import functools
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

#: topic ownership (EVENTS.md v1.1): the ``source`` of the one service that writes each contract topic
OWNER_OF_TOPIC: dict[str, str] = {
    intake.TOPIC: "/rapport/intake",
    consent.TOPIC: "/rapport/consent",
    session.TOPIC: "/rapport/session",
    feedback.TOPIC: "/rapport/session",
    alerts.TOPIC: "/rapport/alliance-monitor",
}
#: the one other writer: intake publishes a client's baseline ORS (``session_id`` null) on feedback.events
BASELINE_ORS_SOURCE = OWNER_OF_TOPIC[intake.TOPIC]

_BY_TYPE: dict[str, type[CloudEvent[Any]]] = {cls.event_type(): cls for cls in EVENT_CLASSES}

AnyEvent = Annotated[Union[*EVENT_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]
ANY_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def event_class_for(event_type: str) -> type[CloudEvent[Any]]:
    """The envelope class of ``event_type``; KeyError when the contract has no such type."""
    return _BY_TYPE[event_type]


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}.dlq"


@functools.lru_cache(maxsize=1024)  # asked once per consumed record, of a handful of topic names
def contract_topic(topic: str) -> str | None:
    """The contract topic a topic name stands for: the contract name itself or its last dotted suffixes, so
    ``intake.events``, ``prod.intake.events`` and a test's ``t1a2b3c4.intake.events`` are all intake.events.
    None for any other name (``intake.events.dlq``, ``intake``, ``poison``)."""
    for name in TOPICS:
        if topic == name or topic.endswith(f".{name}"):
            return name
    return None


def foreign_source(topic: str, event: CloudEvent[Any]) -> tuple[str, str] | None:
    """Why ``event``, read from ``topic``, is not its topic owner's (EVENTS.md v1.1 topic ownership), as
    (offending attribute, message), or None when it is.

    The type must belong to the contract topic ``topic`` stands for, and the source must be that topic's
    owner (intake may also write a baseline ORS on feedback.events). A topic named after no contract topic
    (a deployment's own name) cannot say which types belong on it: there the event's type names the topic,
    so its source must still be the owner of the type's topic. Messages never echo the record's source.
    """
    own_topic = TOPIC_OF_TYPE[event.type]
    named = contract_topic(topic)
    if named is not None and named != own_topic:
        return "type", f"{event.type} belongs to {own_topic}, not {named}"
    owner = OWNER_OF_TOPIC[own_topic]
    if event.source == owner:
        return None
    if _is_baseline_ors(event) and event.source == BASELINE_ORS_SOURCE:
        return None
    also = f" (and a baseline ORS by {BASELINE_ORS_SOURCE})" if own_topic == feedback.TOPIC else ""
    return "source", f"{own_topic} is written by {owner} only{also}"


def _is_baseline_ors(event: CloudEvent[Any]) -> bool:
    return isinstance(event, feedback.OrsSubmitted) and event.data.session_id is None
