"""The monitor's one consumer group over the four input topics: one unit of work per batch.

What it consumes is what the engine acts on (:data:`~rapport_alliance_monitor.domain.engine.HANDLED_TYPES`,
read off the engine's transitions, rules and consent-violation scopes); :data:`SUBSCRIPTIONS` declares it per
topic for the AsyncAPI document, and the handler skips every other type (its position still moves past it).

The batch's partitions' stored positions come first (records below them were processed already: a
redelivery after a crash or a rebalance stops there; see ``store/positions.py``), then
:class:`~rapport_alliance_monitor.analysis.Analysis` does the rest inside the same transaction, and the
positions move past the batch in it too. Nothing is kept in memory between batches, so a partition moving
to another instance, or a restart, continues from PostgreSQL. This is a batch engine rather than
:class:`~rapport_common.application.handlers.EventHandlers`: the analysis of a batch loads and writes each
state row once for all its events, and stored positions replace the inbox. (States kept in memory between batches were
built and measured: slower here, and 16 MB per 1,000 pairs; see README.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.domain.engine import HANDLED_TYPES
from rapport_alliance_monitor.domain.order import MERGED_TOPICS, consumed_order
from rapport_alliance_monitor.runtime import MonitorRuntime
from rapport_alliance_monitor.settings import DEFAULT_TOPICS
from rapport_alliance_monitor.store import positions
from rapport_alliance_monitor.use_cases import monitoring
from rapport_common.application.handlers import Subscription
from rapport_common.application.unit_of_work import Transactions
from rapport_common.events import consent, feedback, intake, session
from rapport_common.events.catalog import contract_topic
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.intake import ClinicianRegistered
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.kafka.event_time_consumer import EventTimeConsumer

log = logging.getLogger(__name__)


SERVICE = "alliance-monitor"
#: the consumer's default name (its group id, ``AllianceMonitorSettings.consumer_group``)
CONSUMER = "alliance-monitor"
_USES = {
    intake.TOPIC: "clinicians' working hours and supervisors, clients' age bands, assignments and baselines",
    consent.TOPIC: "the consent timeline that gates every analysis (and raises consent-violation)",
    session.TOPIC: "attendance, live telemetry, overruns and messages for the alliance rules",
    feedback.TOPIC: "SRS, ORS and pulse scores for the alliance rules and the trend chart",
}

#: what the monitor consumes, one subscription per input topic, for the AsyncAPI document
SUBSCRIPTIONS = tuple(
    Subscription(
        service=SERVICE,
        consumer=CONSUMER,
        topic=topic,
        handles=tuple(sorted((c for c in HANDLED_TYPES if c.topic == topic), key=lambda c: c.event_type())),
        summary=_USES[topic],
    )
    for topic in DEFAULT_TOPICS
)


#: what the group's handler analyses: clinician registrations are the clinician table's (every instance reads
#: them from every partition, see ``clinician_table.py``), the rest is the engine's
GROUP_HANDLED_TYPES = HANDLED_TYPES - {ClinicianRegistered}


class MonitorHandler:
    """The batch handler: positions claimed, the new events analysed, positions moved, in one unit of work."""

    def __init__(self, transactions: Transactions, rules: RulesConfig, *, group: str, check: PositionCheck) -> None:
        self.transactions = transactions
        self.rules = rules
        self.group = group
        self.check = check

    async def __call__(self, batch: list[ConsumedEvent]) -> None:
        await self.check.ensure({TopicPartition(*where) for where in {(c.topic, c.partition) for c in batch}})
        async with self.transactions.begin() as uow:
            events = _handled(await positions.claim(uow.conn, self.group, batch))
            if not events:
                return  # the positions still move past the batch
            stored = await monitoring.analyse(uow, events=events, rules=self.rules)
        stored.observe()


def _handled(fresh: Sequence[ConsumedEvent]) -> list[CloudEvent[Any]]:
    """The events the engine acts on, in order; the same id twice in one batch (a producer retry) once."""
    seen: set[str] = set()
    events: list[CloudEvent[Any]] = []
    for consumed in fresh:
        event = consumed.event
        if type(event) in GROUP_HANDLED_TYPES and event.id not in seen:
            seen.add(event.id)
            events.append(event)
    return events


class PositionCheck:
    """On assignment: distrust stored positions the broker cannot confirm.

    A stored position skips every record below it, so one that belongs to another incarnation of the
    partition (the embedded broker starts with empty topics on every run while PostgreSQL keeps its data; a
    topic deleted and created again) would silently skip new records. A position is kept only while the
    broker has a committed offset for the group on that partition and the log reaches it; otherwise it is
    dropped and the partition is read from the group's start (redelivered records are harmless: the domain
    is idempotent by event id; skipped ones would be lost).
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.consumer: BatchConsumer | None = None
        #: partitions checked since they were assigned
        self.verified: set[TopicPartition] = set()

    async def __call__(self, assigned: set[TopicPartition]) -> None:
        """The consumer's on-assigned hook; a failure here (database down) is retried by :meth:`ensure`."""
        self.verified -= assigned
        try:
            await self.ensure(assigned)
        except Exception as exc:  # the handler calls ensure() again before it claims anything
            log.warning("position check deferred", extra={"reason": type(exc).__name__})

    async def ensure(self, partitions: set[TopicPartition]) -> None:
        """Check the partitions not checked since their assignment (before a batch of theirs is claimed)."""
        todo = partitions - self.verified
        if not todo or self.consumer is None:
            return
        group = self.consumer.group_id
        stored = await positions.positions(self.pool, group)
        broker = await self.consumer.broker_offsets({tp for tp in todo if (tp.topic, tp.partition) in stored})
        stale = sorted(
            (tp.topic, tp.partition)
            for tp, (committed, end) in broker.items()
            if committed is None or stored[(tp.topic, tp.partition)] > end
        )
        if stale:
            log.warning(
                "stored positions the broker does not confirm were dropped",
                extra={"group": group, "count": len(stale)},
            )
            await positions.forget(self.pool, group, stale)
        self.verified |= todo


def monitor_consumer(runtime: MonitorRuntime) -> BatchConsumer:
    """The group's consumer: consents read first, the other inputs merged by event time per partition number
    (``domain/order.py``), each event released once the clinician table has been read past its time."""
    settings = runtime.settings
    check = PositionCheck(runtime.pool)
    table = runtime.parts.clinicians
    read_first = set(settings.read_first_topics)  # contract names or the deployment's own
    consumer = EventTimeConsumer(
        merged=[t for t in settings.consume_topics if contract_topic(t) in MERGED_TOPICS],
        order=consumed_order,
        table_time=table.read_until if table is not None else None,
        max_held_per_partition=settings.max_held_per_partition,
        service="alliance-monitor",
        group_id=settings.consumer_group,
        topics=settings.consume_topics,
        handler=MonitorHandler(runtime.transactions, runtime.parts.rules, group=settings.consumer_group, check=check),
        dead_letters=runtime.producer,
        **settings.consumer_options(),
        read_first=[t for t in settings.consume_topics if t in read_first or contract_topic(t) in read_first],
    )
    check.consumer = consumer
    consumer.on_assigned = check
    return consumer
