"""A batch consumer that hands co-partitioned topics to its handler in event-time order.

Kafka orders records within a partition only, so a consumer reading several topics sees them in arrival
order: after an outage or on a new instance, a backlog of one topic can be read far ahead of another's
(feedback judged before the session it belongs to had started). This consumer buffers the records of its
``merged`` topics and releases them through a :class:`~rapport_common.kafka.stream_time.StreamTimeMerger`:
per partition number, in ``order``, each only once every other merged partition of that number has been
read past its time or to its end. Topics it reads but does not merge (facts read ahead, like consents) go
to the handler as they come. ``table_time`` (optional) says up to when a table the records need has been
read; a record waits until that is past its time. Topics read first (``read_first``) gate their partition
number: its merged records are released only while the same-numbered partitions of the read-first topics have
been read to their end (their records reach the handler first, in the same batch), so facts those records
depend on (consents) are known before them whatever the arrival order.

Offsets are committed up to the first record still held per partition, so a restart or a rebalance reads
held records again and nothing is skipped; what was released and handled is committed as before. A
partition holding many records is paused until its group catches up (memory stays bounded), and is never
the one its group waits for (that one holds none).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent, PartitionEnd, log
from rapport_common.kafka.copartition import CoPartitionedAssignor, unequal_partition_counts
from rapport_common.kafka.reading import topic_partitions
from rapport_common.kafka.stream_time import END_OF_TIME, OrderKey, StreamTimeMerger
from rapport_common.metrics import CONSUMER_LAG
from rapport_common.refusal import StartRefused

#: how many times one poll takes more of what the fetcher holds for the partitions its merge waits on
_TOP_UPS = 3


class UnequalPartitions(StartRefused):
    """The merged topics do not have equal partition counts."""


class EventTimeConsumer(BatchConsumer):
    def __init__(
        self,
        *,
        merged: Sequence[str],
        order: OrderKey,
        table_time: Callable[[], datetime | None] | None = None,
        max_held_per_partition: int = 2_000,
        **options: Any,
    ) -> None:
        super().__init__(assignors=(CoPartitionedAssignor,), **options)
        self.merged = frozenset(merged) & set(self.topics)
        self.table_time = table_time
        self.max_held_per_partition = max_held_per_partition
        self.merger: StreamTimeMerger[ConsumedEvent] = StreamTimeMerger(order=order, time_of=lambda c: c.event.time)
        #: per partition, the offset after the last record fetched (decoded, dead-lettered or held)
        self._fetched_to: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        """Refuse to start when the merged topics' partition counts differ (their partitions would not line
        up), with a message naming the topics and their counts."""
        await super().start()
        counts: dict[str, int] = {topic: 0 for topic in self.merged}
        for tp in await topic_partitions(self._consumer, sorted(self.merged)):
            counts[tp.topic] += 1
        if (problem := unequal_partition_counts(counts)) is not None:
            await self.close()
            raise UnequalPartitions(problem)

    def _partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # what is held was never committed: the next owner (or this one, reassigned) reads it again
        self.merger.revoke((tp.topic, tp.partition) for tp in revoked)
        for tp in revoked:
            self._fetched_to.pop(tp, None)
            self._committed.pop(tp, None)
            self.partition_caught_up.pop(tp, None)

    def _partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.merger.assign((tp.topic, tp.partition) for tp in assigned if tp.topic in self.merged)

    def _nothing_held(self) -> bool:
        return self.merger.total_buffered() == 0

    async def _handle_polled(
        self, batches: dict[TopicPartition, list[ConsumerRecord]], ends: dict[TopicPartition, PartitionEnd | None]
    ) -> bool:
        direct = await self._take(batches)
        if direct is None:
            return False
        for _ in range(_TOP_UPS):
            waited_for = self._waited_for(ends)
            if not waited_for:
                break
            # records the fetcher already holds for a partition the merge waits on: take them now rather than
            # after this batch is handled (a live event would wait a whole batch for them)
            more = await self._consumer.getmany(*waited_for, timeout_ms=0, max_records=self.max_records)
            if not any(more.values()):
                break
            taken = await self._take(more)
            if taken is None:
                return False
            direct += taken
            ends = await self._partition_ends()
        table_time = self.table_time() if self.table_time is not None else END_OF_TIME
        released = self.merger.release(table_time=table_time, ready=self._gates_read(ends))
        if not await self._handle_events(direct + released):
            return False
        await self._commit_progress()
        return True

    async def _take(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> list[ConsumedEvent] | None:
        """Decode ``batches``, buffer the merged topics' records; returns the others (None when stopping)."""
        valid = await self._decode(batches)
        if valid is None:
            return None
        for tp, records in batches.items():
            if records:
                self._fetched_to[tp] = records[-1].offset + 1
        self.merger.add(consumed for consumed in valid if consumed.topic in self.merged)
        return [consumed for consumed in valid if consumed.topic not in self.merged]

    def _waited_for(self, ends: dict[TopicPartition, PartitionEnd | None]) -> list[TopicPartition]:
        """The partitions a held record waits on now: merged ones empty and behind, read-first ones behind."""
        self._note_caught_up(ends)
        if self.merger.total_buffered() == 0:
            return []
        behind = {TopicPartition(topic, number) for topic, number in self.merger.blocked_by()}
        numbers = {number for topic, number in self.merger.assigned() if self.merger.buffered(topic, number)}
        behind |= {
            tp
            for tp, known in ends.items()
            if tp.topic in self.read_first and tp.partition in numbers and (known is None or not known.read_to_end)
        }
        return sorted(behind & set(ends))

    def _note_caught_up(self, ends: dict[TopicPartition, PartitionEnd | None]) -> None:
        for tp, known in ends.items():
            if tp.topic in self.merged:
                self.merger.set_caught_up(tp.topic, tp.partition, known is not None and known.read_to_end)

    def _gates_read(self, ends: dict[TopicPartition, PartitionEnd | None]) -> Callable[[int], bool]:
        """Which partition numbers may release: those whose read-first partitions are all read to their end."""
        behind = {
            tp.partition
            for tp, known in ends.items()
            if tp.topic in self.read_first and (known is None or not known.read_to_end)
        }
        return lambda number: number not in behind

    async def _commit_progress(self) -> None:
        """Commit, per partition, up to its first held record (or all it fetched when it holds none)."""
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, fetched_to in self._fetched_to.items():
            held = self.merger.first_held_offset(tp.topic, tp.partition)
            upto = held if held is not None else fetched_to
            if upto > self._committed.get(tp, -1):
                offsets[tp] = OffsetAndMetadata(upto, "")
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            log.warning("offset commit refused after a rebalance; the new owner reprocesses (inbox dedupes)")
            return
        self._committed.update({tp: meta.offset for tp, meta in offsets.items()})
        for tp, meta in offsets.items():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                CONSUMER_LAG.labels(self.service, self.group_id, tp.topic, str(tp.partition)).set(
                    max(0, highwater - meta.offset)
                )

    def _mark_caught_up(self, ends: dict[TopicPartition, PartitionEnd | None]) -> None:
        # a partition is caught up for others' decisions only once it holds nothing back
        super()._mark_caught_up(
            {tp: known for tp, known in ends.items() if self.merger.buffered(tp.topic, tp.partition) == 0}
        )

    def _steer_fetching(self, ends: dict[TopicPartition, PartitionEnd | None]) -> None:
        consumer = self._consumer
        wanted: set[TopicPartition] = set()
        if self.read_first and any(
            known is None or not known.read_to_end for tp, known in ends.items() if tp.topic in self.read_first
        ):
            wanted = {tp for tp in ends if tp.topic not in self.read_first}
        wanted |= {tp for tp in ends if self.merger.buffered(tp.topic, tp.partition) >= self.max_held_per_partition}
        paused = set(consumer.paused())
        if wanted - paused:
            consumer.pause(*(wanted - paused))
        if paused - wanted:
            consumer.resume(*(paused - wanted))

    def held_partitions(self) -> dict[tuple[str, int], int]:
        """How many records each merged partition holds back now (for metrics and tests)."""
        return {key: self.merger.buffered(*key) for key in self.merger.assigned()}
