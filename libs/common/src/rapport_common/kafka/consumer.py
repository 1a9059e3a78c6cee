"""A validating batch consumer: getmany -> decode -> dead-letter invalid -> handle -> commit.

Offsets are committed only after the handler's effects are durable (the handler commits its own
transaction, usually with :func:`rapport_common.db.inbox.claim` so redelivery has no second effect) and
every dead-lettered record is acknowledged. Transient failures (database down) are retried with backoff,
never dead-lettered. A record the handler rejects on its own (a non-transient error) is isolated by
replaying the batch one event at a time, dead-lettered with reason ``handler-error``, and the rest go on.
A rebalance waits for the batch in hand to finish and commit before partitions move.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError, MessageSizeTooLargeError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from rapport_common.db.pool import is_transient_db_error
from rapport_common.events.codec import EventDecodeError, KafkaRecord, decode_event
from rapport_common.kafka.connection import KafkaConnection, as_connection
from rapport_common.kafka.dead_letter import dead_letter_record
from rapport_common.kafka.producer import EventProducer
from rapport_common.metrics import (
    BATCH_DURATION,
    CONSUMER_LAG,
    HANDLER_RETRIES,
    RECORDS_CONSUMED,
    RECORDS_DEAD_LETTERED,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsumedEvent:
    """A validated event with where it came from."""

    event: Any
    topic: str
    partition: int
    offset: int
    #: the record it was decoded from (kept to dead-letter it untouched if the handler refuses it)
    record: ConsumerRecord | None = field(default=None, compare=False, repr=False)


class PartitionEnd(NamedTuple):
    """Where the consumer stands on a partition at a poll."""

    position: int
    highwater: int
    #: when the broker gave that highwater (epoch seconds)
    fetched_at: float

    @property
    def read_to_end(self) -> bool:
        return self.position >= self.highwater


#: how much earlier than a fetch answer's arrival a "caught up" mark is dated (the broker's highwater is older)
_CAUGHT_UP_MARGIN_S = 0.5

Handler = Callable[[list[ConsumedEvent]], Awaitable[None]]
PartitionsHook = Callable[[set[TopicPartition]], Awaitable[None]]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no type hints
    def __init__(self, owner: BatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._owner.processing:  # the batch in hand finishes and commits first
            self._owner._partitions_revoked(set(revoked))
            if self._owner.on_revoked is not None:
                await self._owner.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._owner._partitions_assigned(set(assigned))
        if self._owner.on_assigned is not None:
            await self._owner.on_assigned(set(assigned))


class BatchConsumer:
    def __init__(
        self,
        *,
        service: str,
        group_id: str,
        topics: Sequence[str],
        bootstrap_servers: str | KafkaConnection,
        handler: Handler,
        dead_letters: EventProducer,
        max_records: int = 500,
        fetch_max_wait_ms: int = 10,
        session_timeout_ms: int = 10_000,
        is_transient: Callable[[BaseException], bool] = is_transient_db_error,
        max_backoff_s: float = 5.0,
        on_assigned: PartitionsHook | None = None,
        on_revoked: PartitionsHook | None = None,
        read_first: Sequence[str] = (),
        assignors: Sequence[Any] = (),
    ) -> None:
        self.service = service
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.dead_letters = dead_letters
        self.max_records = max_records
        self.is_transient = is_transient
        self.max_backoff_s = max_backoff_s
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        #: topics read ahead of the others: while any of their assigned partitions is behind, the other
        #: topics' partitions are paused (a backlog of facts that later records depend on is read first)
        self.read_first = frozenset(read_first) & set(self.topics)
        self.processing = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._last_error = ""
        #: set when :meth:`run` died on an unexpected error; readiness reports it
        self.failure: BaseException | None = None
        #: ``time.monotonic()`` when a poll last came back with less than a full batch, all of it handled
        #: and committed: the consumer had caught up with its partitions then, so a projection it feeds was
        #: current (None before the first such poll)
        self.caught_up_at: float | None = None
        #: per assigned partition, the wall-clock time (epoch seconds) of the broker's answer after which
        #: every record the partition held then had been handled and committed: "nothing published to it
        #: before this moment is still unread" (what a decision that waits for another topic needs)
        self.partition_caught_up: dict[TopicPartition, float] = {}
        self._consumer = AIOKafkaConsumer(
            **as_connection(bootstrap_servers).aiokafka_options(),
            group_id=group_id,
            client_id=f"{service}-{group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_max_wait_ms,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(100, session_timeout_ms // 5),
            max_poll_records=max_records,
            # aiokafka's round-robin unless a consumer needs another (co-partitioned reading)
            **({"partition_assignment_strategy": tuple(assignors)} if assignors else {}),
        )

    @property
    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment())

    async def start(self) -> None:
        self._consumer.subscribe(self.topics, listener=_Rebalance(self))
        await self._consumer.start()

    def stop(self) -> None:
        """Ask :meth:`run` to finish the batch in hand and return."""
        self._stopping.set()

    async def close(self) -> None:
        with contextlib.suppress(KafkaError):
            await self._consumer.stop()

    async def run(self) -> None:
        """Consume until :meth:`stop`. Call :meth:`start` first and :meth:`close` after.

        Broker errors (coordinator moving, request timeouts) are logged and retried with backoff; anything
        else is recorded in :attr:`failure` (readiness turns false) and re-raised.
        """
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                polled = time.monotonic()
                batches = await self._consumer.getmany(timeout_ms=200, max_records=self.max_records)
                async with self.processing:  # a rebalance waits: the ends below stay this assignment's
                    # once per poll, before handling: positions are already past what the poll returned, and
                    # a highwater the background fetcher brings in meanwhile would claim more than was handled
                    ends = await self._partition_ends()
                    started = time.perf_counter()
                    handled = await self._handle_polled(batches, ends)
                    if batches:
                        BATCH_DURATION.labels(self.service, self.group_id).observe(time.perf_counter() - started)
                    if handled:
                        self._mark_caught_up(ends)
                        self._steer_fetching(ends)
                fetched = sum(len(records) for records in batches.values())
                if handled and fetched < self.max_records and self._nothing_held():
                    self.caught_up_at = polled
                backoff = 0.1
            except KafkaError as exc:
                log.warning("broker error, retrying", extra={"group": self.group_id, "reason": type(exc).__name__})
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            except Exception as exc:
                self.failure = exc
                log.exception("consumer stopped on an unexpected error", extra={"group": self.group_id})
                raise

    async def _handle_polled(
        self, batches: dict[TopicPartition, list[ConsumerRecord]], ends: dict[TopicPartition, PartitionEnd | None]
    ) -> bool:
        """Handle and commit what one poll returned; False when stopping mid-way (nothing committed). ``ends``
        are the assigned partitions' ends at this poll (:meth:`_partition_ends`)."""
        if not batches:
            return True
        if not await self._process(batches):
            return False
        await self._commit(batches)
        return True

    def _partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Called on a rebalance, after the batch in hand has committed (a subclass drops what it holds)."""

    def _partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Called on a rebalance with the partitions now assigned."""

    def _nothing_held(self) -> bool:
        """Whether every record fetched so far has been handled (a subclass may hold some back)."""
        return True

    def _steer_fetching(self, ends: dict[TopicPartition, PartitionEnd | None]) -> None:
        """Pause and resume partitions after a poll (read-first topics ahead of the others)."""
        if self.read_first:
            self._read_first_topics_first(ends)

    async def _partition_ends(self) -> dict[TopicPartition, PartitionEnd | None]:
        """Per assigned partition: (position, highwater, when the broker gave that highwater in epoch seconds),
        or None while unknown (not fetched yet, or no valid position: just assigned, or being revoked)."""
        consumer = self._consumer
        ends: dict[TopicPartition, PartitionEnd | None] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            fetched_ms = consumer.last_poll_timestamp(tp)
            ends[tp] = None
            if highwater is None or fetched_ms is None:
                continue
            try:
                async with asyncio.timeout(0.05):  # valid positions answer at once; no task as wait_for makes
                    position = await consumer.position(tp)
            except (TimeoutError, KafkaError):
                continue
            ends[tp] = PartitionEnd(position, highwater, fetched_ms / 1000)
        return ends

    def _mark_caught_up(self, ends: dict[TopicPartition, PartitionEnd | None]) -> None:
        for tp, known in ends.items():
            if known is not None and known.read_to_end:
                # the broker computed the highwater a little before its answer arrived: claim a bit less
                self.partition_caught_up[tp] = known.fetched_at - _CAUGHT_UP_MARGIN_S

    def _read_first_topics_first(self, ends: dict[TopicPartition, PartitionEnd | None]) -> None:
        # a read-first partition not fetched yet is unknown, so treated as behind
        behind = any(
            known is None or not known.read_to_end for tp, known in ends.items() if tp.topic in self.read_first
        )
        consumer = self._consumer
        paused = consumer.paused()
        if behind:
            to_pause = [tp for tp in ends if tp.topic not in self.read_first and tp not in paused]
            if to_pause:
                consumer.pause(*to_pause)
        elif paused:
            consumer.resume(*paused)

    async def broker_offsets(self, partitions: set[TopicPartition]) -> dict[TopicPartition, tuple[int | None, int]]:
        """Per partition: this group's committed offset on the broker (None: none) and the log end offset."""
        if not partitions:
            return {}
        ends = await self._consumer.end_offsets(list(partitions))
        return {tp: (await self._consumer.committed(tp), ends[tp]) for tp in partitions}

    def partition_count(self) -> int | None:
        """How many partitions the subscribed topics have (broker metadata), None while any is unknown."""
        counts = [self._consumer.partitions_for_topic(topic) for topic in self.topics]
        if any(not c for c in counts):
            return None
        return sum(len(c) for c in counts if c)

    async def _process(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> bool:
        """Dead-letter invalid records, hand valid ones to the handler; False when stopping mid-way."""
        valid = await self._decode(batches)
        return valid is not None and await self._handle_events(valid)

    async def _decode(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> list[ConsumedEvent] | None:
        """The valid events of ``batches``, invalid records dead-lettered; None when stopping mid-way."""
        valid: list[ConsumedEvent] = []
        for tp, records in batches.items():
            RECORDS_CONSUMED.labels(self.service, self.group_id, tp.topic).inc(len(records))
            for record in records:
                try:
                    # validates, and dead-letters a type or source foreign to the topic (EVENTS.md v1.1)
                    event = decode_event(record.value, list(record.headers or ()), topic=record.topic)
                except EventDecodeError as exc:
                    if not await self._dead_letter(record, exc.reason, exc.field, exc.message):
                        return None
                    continue
                valid.append(ConsumedEvent(event, record.topic, record.partition, record.offset, record))
        return valid

    async def _handle_events(self, valid: list[ConsumedEvent]) -> bool:
        """Hand ``valid`` to the handler; an event it refuses is isolated and dead-lettered. False when stopping."""
        if not valid:
            return True
        outcome = await self._handle_with_retry(valid)
        if outcome is None:
            return False
        if outcome:
            return True
        for consumed in valid:  # isolate the event(s) the handler refuses
            single = await self._handle_with_retry([consumed])
            if single is None:
                return False
            if not single:
                assert consumed.record is not None
                if not await self._dead_letter(consumed.record, "handler-error", "value", self._last_error):
                    return False
        return True

    async def _handle_with_retry(self, events: list[ConsumedEvent]) -> bool | None:
        """True when handled, False on a non-transient error, None when stopping while retrying."""
        backoff = 0.1
        attempt = 0
        while True:
            try:
                await self.handler(events)
                return True
            except Exception as exc:
                if not self.is_transient(exc):
                    self._last_error = type(exc).__name__
                    log.exception("handler rejected batch", extra={"group": self.group_id, "count": len(events)})
                    return False
                attempt += 1
                HANDLER_RETRIES.labels(self.service, self.group_id).inc()
                log.warning(
                    "transient failure, retrying batch",
                    extra={
                        "group": self.group_id,
                        "reason": type(exc).__name__,
                        "attempt": attempt,
                        "delay_s": backoff,
                        "count": len(events),
                    },
                )
                if await self._sleep(backoff):
                    return None
                backoff = min(backoff * 2, self.max_backoff_s)

    async def _dead_letter(self, record: ConsumerRecord, reason: str, field: str, error: str) -> bool:
        dead = dead_letter_record(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
            group=self.group_id,
            reason=reason,
            field=field,
            error=error,
        )
        backoff = 0.1
        while True:
            try:
                await self.dead_letters.send(dead)
                break
            except MessageSizeTooLargeError:
                # the original cannot be carried: dead-letter its headers and reason, note the dropped value
                dead = KafkaRecord(dead.topic, dead.key, b"", [*dead.headers, ("dlq-value-dropped", b"too-large")])
            except KafkaError as exc:
                log.warning("dead-letter publish failed, retrying", extra={"reason": type(exc).__name__})
                if await self._sleep(backoff):
                    return False
                backoff = min(backoff * 2, self.max_backoff_s)
        RECORDS_DEAD_LETTERED.labels(self.service, record.topic, reason).inc()
        log.warning(
            "record dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
                "field": field,
            },
        )
        return True

    async def _commit(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "") for tp, records in batches.items()}
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            log.warning("offset commit refused after a rebalance; the new owner reprocesses (inbox dedupes)")
            return
        for tp, records in batches.items():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                CONSUMER_LAG.labels(self.service, self.group_id, tp.topic, str(tp.partition)).set(
                    max(0, highwater - (records[-1].offset + 1))
                )

    async def _sleep(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()
