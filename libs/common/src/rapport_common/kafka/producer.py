"""The event producer: publishes records keyed by client, preserving each partition's order on failure.

Records are grouped per (topic, partition) and sent as whole batches (``create_batch``/``send_batch``,
about 5x the rate of one ``send`` per record here). Batches of one partition go strictly one after the
other, so when one fails nothing after it in that partition is published: the caller retries from the
first failure and a client's events are never reordered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from rapport_common.events.codec import KafkaRecord, event_id_of
from rapport_common.kafka.connection import KafkaConnection, as_connection

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 1_048_576


@dataclass
class Published:
    """Per record, whether the broker acknowledged it; per partition, the base offset of its last
    acknowledged batch (where the next records land at or after)."""

    acked: list[bool]
    positions: dict[tuple[str, int], int] = field(default_factory=dict)


class EventProducer:
    def __init__(
        self,
        bootstrap_servers: str | KafkaConnection,
        *,
        enable_idempotence: bool,
        client_id: str = "rapport",
        request_timeout_ms: int = 30_000,
        linger_ms: int = 0,
    ) -> None:
        self._connection = as_connection(bootstrap_servers)
        self._producer = AIOKafkaProducer(
            **self._connection.aiokafka_options(),
            client_id=client_id,
            enable_idempotence=enable_idempotence,
            acks="all",
            linger_ms=linger_ms,
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=MAX_BATCH_BYTES + 65_536,
            request_timeout_ms=request_timeout_ms,
        )
        self._partitioner = DefaultPartitioner()
        self._started = False

    async def start(self) -> None:
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self._producer.stop()

    async def broker_reachable(self) -> bool:
        """True when a fresh metadata request succeeds (readiness probe)."""
        return bool(await self._producer.client.fetch_all_metadata())

    async def send(self, record: KafkaRecord, *, partition: int | None = None) -> None:
        """Send one record and wait for the broker's acknowledgement."""
        await self._producer.send_and_wait(
            record.topic, value=record.value, key=record.key, headers=record.headers, partition=partition
        )

    async def partition_for(self, topic: str, key: bytes) -> int:
        """The partition the default (murmur2, Java-compatible) partitioner picks for ``key``."""
        partitions = sorted(await self._producer.partitions_for(topic))
        return int(self._partitioner(key, partitions, partitions))

    async def publish(self, records: Sequence[KafkaRecord]) -> list[bool]:
        """Publish ``records``; returns, per record, whether the broker acknowledged it.

        Within a partition the acknowledged records always form a prefix of that partition's records.
        """
        return (await self.publish_tracked(records)).acked

    async def publish_tracked(self, records: Sequence[KafkaRecord]) -> Published:
        """:meth:`publish`, also telling where each partition's last acknowledged batch landed."""
        by_partition: dict[tuple[str, int], list[int]] = defaultdict(list)
        partitions_of: dict[str, list[int]] = {}
        for index, record in enumerate(records):
            if record.topic not in partitions_of:
                partitions_of[record.topic] = sorted(await self._producer.partitions_for(record.topic))
            all_partitions = partitions_of[record.topic]
            partition = int(self._partitioner(record.key, all_partitions, all_partitions))
            by_partition[(record.topic, partition)].append(index)
        result = Published(acked=[False] * len(records))
        await asyncio.gather(
            *(
                self._publish_partition(topic, partition, indices, records, result)
                for (topic, partition), indices in by_partition.items()
            )
        )
        return result

    async def event_ids_since(self, topic: str, partition: int, offset: int, *, idle_ms: int = 1000) -> set[str]:
        """The event id header of every record of one partition from ``offset`` to its end, ``rapport-id`` or,
        on records written before v1.1, ``ce_id`` (a short-lived reader; used by the outbox relay to reconcile
        after a crash, so rarely)."""
        tp = TopicPartition(topic, partition)
        reader = AIOKafkaConsumer(
            **self._connection.aiokafka_options(), enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await reader.start()
        try:
            reader.assign([tp])
            end = (await reader.end_offsets([tp]))[tp]
            if offset >= end:
                return set()
            reader.seek(tp, offset)
            ids: set[str] = set()
            while await reader.position(tp) < end:
                fetched = await reader.getmany(tp, timeout_ms=idle_ms)
                if not fetched:
                    break  # nothing more arrives (a broker may report its end one past the last record)
                for record in fetched.get(tp, []):
                    event_id = event_id_of(record.headers)
                    if event_id is not None:
                        ids.add(event_id)
            return ids
        finally:
            await reader.stop()

    async def _publish_partition(
        self, topic: str, partition: int, indices: list[int], records: Sequence[KafkaRecord], result: Published
    ) -> None:
        position = 0
        while position < len(indices):
            batch = self._producer.create_batch()
            taken: list[int] = []
            while position < len(indices):
                record = records[indices[position]]
                if batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers) is None:
                    break
                taken.append(indices[position])
                position += 1
            if not taken:
                raise ValueError(f"record too large for one batch on {topic}")
            try:
                metadata = await (await self._producer.send_batch(batch, topic, partition=partition))
            except Exception as exc:  # any failure stops this partition: later records must not overtake
                log.warning(
                    "batch publish failed",
                    extra={"topic": topic, "partition": partition, "count": len(taken), "reason": type(exc).__name__},
                )
                return
            for index in taken:
                result.acked[index] = True
            result.positions[(topic, partition)] = metadata.offset
