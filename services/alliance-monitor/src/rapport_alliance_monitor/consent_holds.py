"""The hold job: decides held events whose hold (processing time) has ended.

A hold that has ended is decided only once the consumer group has read every input partition to its end
after that moment (``store/progress.py``): the grant that covers an event may be published before the hold
ends yet still sit unread behind a backlog (after an outage or a restart), and deciding then would raise a
false ``consent-violation`` and drop a covered event. While the monitor keeps up (the normal state) that
adds well under a second; while it is behind, held events wait for it, in PostgreSQL.

It runs as a worker of the service runtime (:func:`hold_worker`), which stops it at once on shutdown; a
non-transient error ends it and readiness reports it. Every instance runs it; the per-client locks make two
instances take turns rather than decide an event twice, and a hold row is deleted in the transaction that
evaluates its event. Each instance's job also
stores its own consumer's partition marks, so every instance sees them all.
"""

from __future__ import annotations

import logging
from datetime import datetime

from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.metrics import CONSENT_HOLDS
from rapport_alliance_monitor.store import holds
from rapport_alliance_monitor.use_cases import monitoring
from rapport_common.application.unit_of_work import Transactions
from rapport_common.kafka.consumer import BatchConsumer
from rapport_common.workers import PollingWorker

log = logging.getLogger(__name__)


class ConsentHoldJob:
    """One round per poll: the instance's partition marks stored, then every hold that may be decided, a
    batch per unit of work (see :mod:`rapport_alliance_monitor.use_cases.monitoring`)."""

    def __init__(self, transactions: Transactions, rules: RulesConfig, *, consumer: BatchConsumer) -> None:
        self.transactions = transactions
        self.rules = rules
        self.consumer = consumer

    async def round(self) -> None:
        """Decide every hold that may be decided now."""
        until = await self.decidable_until()  # once per round, not per batch of holds
        while until is not None and await self.expire_once(until):
            pass
        CONSENT_HOLDS.set(await holds.count(self.transactions.pool))

    async def decidable_until(self) -> datetime | None:
        """Store this instance's partition marks; holds that ended before the returned moment may be decided."""
        consumer = self.consumer
        marks = {(tp.topic, tp.partition): at for tp, at in consumer.partition_caught_up.items()}
        async with self.transactions.begin() as uow:
            return await monitoring.decidable_until(
                uow, group=consumer.group_id, marks=marks, topics=consumer.topics, partitions=consumer.partition_count()
            )

    async def expire_once(self, until: datetime) -> int:
        """One unit of work deciding up to a batch of the holds that ended before ``until``; returns how many."""
        async with self.transactions.begin() as uow:
            decided = await monitoring.decide_ended_holds(uow, rules=self.rules, until=until)
        decided.stored.observe()
        if decided.count:
            log.info("consent holds decided", extra={"count": decided.count})
        return decided.count


def hold_worker(job: ConsentHoldJob, *, poll_s: float) -> PollingWorker:
    """The job as a worker; a non-transient error ends it (a later round could only repeat it)."""
    return PollingWorker("consent-holds", job.round, poll_s=poll_s, keep_going=False)
