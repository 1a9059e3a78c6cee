"""The order in which the monitor judges events: one definition for the live consumer and the backtest.

Events are judged in event time (DOMAIN.md "Event-time order"), whatever order they arrived in. Consents are
the exception: a consent's effect is its validity interval, so each event is judged against every consent
known, and consents are read ahead of everything else (live: the consent topic is read first and an event
without its consent waits in a hold; backtest: consents are replayed first). Events with the same time go in
the order of their topics below (facts before what they describe), and within one topic partition in offset
order (the backtest's sort is stable, the live merge keeps each partition's order).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rapport_common.events import consent, feedback, intake, session
from rapport_common.events.catalog import contract_topic
from rapport_common.events.envelope import CloudEvent
from rapport_common.kafka.consumer import ConsumedEvent

#: consents are read ahead of everything; the others merged by event time
READ_FIRST_TOPICS = (consent.TOPIC,)
MERGED_TOPICS = (intake.TOPIC, session.TOPIC, feedback.TOPIC)
#: tie-break for equal event times
TOPIC_RANK = {topic: rank for rank, topic in enumerate((consent.TOPIC, *MERGED_TOPICS))}


def stream_key(time: datetime, topic: str) -> tuple[datetime, int]:
    """Where an event of ``topic`` (a contract topic) at ``time`` goes among the merged ones."""
    return time, TOPIC_RANK[topic]


def consumed_order(consumed: ConsumedEvent) -> tuple[datetime, int]:
    """The live merge's order of a consumed event (its topic may be a deployment's name for a contract one)."""
    return stream_key(consumed.event.time, contract_topic(consumed.topic) or type(consumed.event).topic)


def replay_key(event: CloudEvent[Any]) -> tuple[bool, datetime, int]:
    """The backtest's order: consents first, then the merge's order (sort stably: ties keep input order)."""
    return type(event).topic != consent.TOPIC, *stream_key(event.time, type(event).topic)
