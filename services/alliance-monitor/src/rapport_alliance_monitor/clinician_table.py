"""Clinician registrations as a table every partition group needs (Kafka Streams' global table).

``clinician-registered`` is keyed by clinician, so the registration a pair's events need (working hours for
``off-hours-contact``, the supervisor an alert is addressed to) can sit on any partition of ``intake.events``,
read by another instance. Every instance therefore reads every partition of that topic here, applies the
registrations to the stored clinician states, and says up to when it has read (:meth:`read_until`): the
consumer releases an event only once the table is read past its time.

Applying is idempotent and safe from several instances at once: positions are stored per partition under
their own name in the same transaction as the states (instances take turns on a partition's row and the second
skips what the first applied), and a clinician's state keeps the registration latest by event time. Records of
other types (told by the type header) only move the read mark forward, and only their time is parsed: the
partition is published in time order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError

from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.store import positions
from rapport_alliance_monitor.use_cases import monitoring
from rapport_common.application.unit_of_work import Transactions
from rapport_common.db.pool import is_transient_db_error
from rapport_common.events.codec import TYPE_HEADER, EventDecodeError, decode_event, header_value
from rapport_common.events.intake import ClinicianRegistered
from rapport_common.kafka.connection import KafkaConnection
from rapport_common.kafka.consumer import ConsumedEvent
from rapport_common.kafka.reading import topic_partitions
from rapport_common.kafka.stream_time import END_OF_TIME

log = logging.getLogger(__name__)


class _Stamp(BaseModel):
    """Just the event time of a record the table does not apply."""

    time: AwareDatetime


_STAMP = TypeAdapter(_Stamp)
_REGISTERED = ClinicianRegistered.event_type()


class ClinicianTable:
    """A background worker of the monitor (see :mod:`rapport_common.workers`)."""

    name = "clinician-table"

    def __init__(
        self, *, connection: KafkaConnection, topic: str, transactions: Transactions, rules: RulesConfig, group: str
    ) -> None:
        self.topic = topic
        self.transactions = transactions
        self.rules = rules
        #: the name its positions are stored under (not a Kafka group: it reads every partition itself)
        self.group = group
        self._consumer = AIOKafkaConsumer(
            **connection.aiokafka_options(), enable_auto_commit=False, auto_offset_reset="earliest", group_id=None
        )
        self._stopping = asyncio.Event()
        #: per partition, the time of the last record read (None: none yet) and whether it is read to its end
        self._read_to: dict[int, datetime | None] = {}
        self._caught_up: dict[int, bool] = {}

    def read_until(self) -> datetime | None:
        """Every registration up to this time has been applied (None while some partition is unknown)."""
        if not self._caught_up:
            return None
        marks: list[datetime] = []
        for number, caught_up in self._caught_up.items():
            if caught_up:
                marks.append(END_OF_TIME)
            elif (last := self._read_to.get(number)) is not None:
                marks.append(last)
            else:
                return None
        return min(marks)

    async def start(self) -> None:
        await self._consumer.start()
        partitions = await topic_partitions(self._consumer, [self.topic])
        self._consumer.assign(partitions)
        stored = await positions.positions(self.transactions.pool, self.group)
        ends = await self._consumer.end_offsets(partitions) if partitions else {}
        stale = []
        for tp in partitions:
            at = stored.get((tp.topic, tp.partition))
            if at is not None and at <= ends[tp]:
                self._consumer.seek(tp, at)
            else:
                if at is not None:  # a position beyond the log: another incarnation of the topic
                    stale.append((tp.topic, tp.partition))
                self._consumer.seek(tp, 0)
            self._read_to[tp.partition] = None
            self._caught_up[tp.partition] = False
        await positions.forget(self.transactions.pool, self.group, stale)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
                for tp, records in batches.items():
                    await self._apply(tp, records)
                await self._note_ends()
            except KafkaError as exc:
                log.warning("clinician table: broker error, retrying", extra={"reason": type(exc).__name__})
                await self._pause(1.0)

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        with contextlib.suppress(KafkaError):
            await self._consumer.stop()

    async def _apply(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        read: list[ConsumedEvent] = []
        read_to = self._read_to.get(tp.partition)
        for record in records:
            headers = list(record.headers or ())
            if header_value(headers, TYPE_HEADER) not in (None, _REGISTERED):
                # another type (most of the topic): only its time moves the mark, so only that is parsed
                try:
                    at = _STAMP.validate_json(record.value or b"").time
                except ValidationError:
                    continue  # the consumer group dead-letters it; the table has nothing to learn from it
                read.append(ConsumedEvent(None, tp.topic, tp.partition, record.offset))
            else:
                try:
                    event = decode_event(record.value, headers, topic=record.topic)
                except EventDecodeError:
                    continue
                read.append(ConsumedEvent(event, tp.topic, tp.partition, record.offset))
                at = event.time
            read_to = at if read_to is None else max(read_to, at)
        if read:
            await self._store(read)
            self._read_to[tp.partition] = read_to

    async def _store(self, read: list[ConsumedEvent]) -> None:
        """Apply the registrations among ``read`` and move the positions, retrying while the database is down
        (the records are already fetched: skipping them would lose them)."""
        delay = 0.2
        while True:
            try:
                async with self.transactions.begin() as uow:
                    fresh = await positions.claim(uow.conn, self.group, read)
                    registrations = [c.event for c in fresh if isinstance(c.event, ClinicianRegistered)]
                    if registrations:
                        await monitoring.analyse(uow, events=registrations, rules=self.rules)
                return
            except Exception as exc:
                if not is_transient_db_error(exc):
                    raise  # the worker ends and readiness reports it
                log.warning("clinician table: database unavailable, retrying", extra={"reason": type(exc).__name__})
                if await self._pause(delay):
                    return  # stopping: nothing was applied, the next start reads these again
                delay = min(delay * 2, 5.0)

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` or until stopped; True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    async def _note_ends(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except KafkaError:
                continue
            self._caught_up[tp.partition] = position >= highwater
