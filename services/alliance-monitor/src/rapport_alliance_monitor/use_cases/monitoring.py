"""Monitoring: events through the engine, and held events whose consent hold has ended.

The consumer calls :func:`analyse` with each batch's new events, the hold worker calls :func:`decidable_until`
and :func:`decide_ended_holds`; everything an analysis changes is written in the caller's unit of work (see
:mod:`rapport_alliance_monitor.analysis`), and what it stored is returned for the metrics, observed by the
caller once the unit of work has committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rapport_alliance_monitor.analysis import Analysis, Stored
from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.store import progress
from rapport_alliance_monitor.store.positions import Partition
from rapport_common.application.unit_of_work import UnitOfWork
from rapport_common.events.envelope import CloudEvent


@dataclass(frozen=True, slots=True)
class Decided:
    """How many held events a round decided, and what deciding them stored."""

    count: int
    stored: Stored


async def analyse(uow: UnitOfWork, *, events: Sequence[CloudEvent[Any]], rules: RulesConfig) -> Stored:
    """New events in consumption order: each evaluated, or held while its consent may still arrive."""
    analysis = Analysis(uow.conn, rules, hold_seconds=rules.consent.hold_seconds)
    await analysis.process(events)
    return await analysis.finish()


async def decide_ended_holds(uow: UnitOfWork, *, rules: RulesConfig, until: datetime) -> Decided:
    """Up to a batch of the held events whose hold ended before ``until``, decided with the consent known
    now (what is still missing is not covered)."""
    analysis = Analysis(uow.conn, rules, hold_seconds=rules.consent.hold_seconds)
    count = await analysis.expire_holds(until=until)
    return Decided(count, await analysis.finish())


async def decidable_until(
    uow: UnitOfWork,
    *,
    group: str,
    marks: Mapping[Partition, float],
    topics: Sequence[str],
    partitions: int | None,
) -> datetime | None:
    """Store this instance's partition marks (epoch seconds at which each partition was last read to its
    end). Holds that ended before the returned moment may be decided: every input partition has been read to
    its end since. None while the number of input partitions is unknown."""
    await progress.record(uow.conn, group, marks)
    if partitions is None:
        return None
    return await progress.all_caught_up_since(uow.conn, group, topics, partitions)
