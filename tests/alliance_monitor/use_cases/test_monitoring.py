"""When held events may be decided, and deciding them, over a unit of work on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.use_cases import monitoring
from rapport_common.application.unit_of_work import Transactions
from rapport_common.clock import ManualClock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TOPICS = ["intake.events", "session.events"]


async def test_holds_are_decidable_once_every_partition_has_a_mark_and_only_before_the_oldest(
    monitor_pool: asyncpg.Pool,
) -> None:
    transactions = Transactions(monitor_pool, ManualClock(NOW))
    early, late = NOW - timedelta(seconds=30), NOW - timedelta(seconds=5)

    async def until(marks: dict[tuple[str, int], float], partitions: int | None) -> datetime | None:
        async with transactions.begin() as uow:
            return await monitoring.decidable_until(uow, group="g", marks=marks, topics=TOPICS, partitions=partitions)

    assert await until({("intake.events", 0): late.timestamp()}, partitions=2) is None  # one of two marked
    assert await until({("session.events", 0): early.timestamp()}, partitions=None) is None  # count unknown
    assert await until({}, partitions=2) == early  # both marks were stored, the oldest bounds the decisions
    assert await until({("session.events", 0): late.timestamp()}, partitions=2) == late
    assert await until({("session.events", 0): early.timestamp()}, partitions=2) == late  # marks never go back


async def test_no_ended_hold_decides_nothing_and_stores_nothing(monitor_pool: asyncpg.Pool) -> None:
    async with Transactions(monitor_pool, ManualClock(NOW)).begin() as uow:
        decided = await monitoring.decide_ended_holds(uow, rules=RulesConfig(), until=NOW)
    assert decided.count == 0 and decided.stored.raised == [] and decided.stored.resolved_rules == []
