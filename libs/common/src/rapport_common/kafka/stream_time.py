"""Co-partitioned topics read as one stream per partition number, released in event-time order.

Kafka orders records within a partition only. When several topics are keyed alike with equal partition
counts, partition ``p`` of each holds the same keys, so their records can be merged into one stream per
partition number (a *group*, Kafka Streams' task) and handed on in event-time order: the head with the
smallest order key is released only when every other partition of its group either has a record buffered
(its head is its smallest: each topic is published in time order) or has been read to its end (caught up).
A caught-up, idle partition never holds the others back, so live records stay live; a partition that is
behind holds its group until it has been read past the candidate's time. Records of one partition keep their
offset order whatever their times.

A *table* (records every group needs, such as clinician registrations on every partition of a topic) is
read apart from the groups; ``table_time`` says up to when it has been read (None: not yet; a caught-up table
reports :data:`END_OF_TIME`) and a record is released only once the table is read past its time.

Pure bookkeeping, no I/O: the consumer feeds fetched records in with :meth:`StreamTimeMerger.add`, tells it
which partitions are caught up, and takes :meth:`StreamTimeMerger.release` to its handler.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar


class Timed(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


R = TypeVar("R", bound=Timed)
#: the ``table_time`` of a table read to its end
END_OF_TIME = datetime.max.replace(tzinfo=UTC)
OrderKey = Callable[[Any], tuple[Any, ...]]


@dataclass
class _Partition(Generic[R]):
    buffer: deque[R] = field(default_factory=deque)
    caught_up: bool = False


class StreamTimeMerger(Generic[R]):
    """Buffers records per (topic, partition) and releases them per group in ``order`` (a key whose first
    element is the event time)."""

    def __init__(self, *, order: OrderKey, time_of: Callable[[R], datetime]) -> None:
        self._order = order
        self._time_of = time_of
        #: partition number -> topic -> its buffer
        self._groups: dict[int, dict[str, _Partition[R]]] = {}

    # -- assignment -------------------------------------------------------------------------------------------

    def assign(self, partitions: Iterable[tuple[str, int]]) -> None:
        for topic, number in partitions:
            self._groups.setdefault(number, {}).setdefault(topic, _Partition())

    def revoke(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Forget revoked partitions and what they buffered (never released, so never committed: the next owner
        reads them again)."""
        for topic, number in partitions:
            group = self._groups.get(number)
            if group is not None:
                group.pop(topic, None)
                if not group:
                    del self._groups[number]

    def assigned(self) -> set[tuple[str, int]]:
        return {(topic, number) for number, group in self._groups.items() for topic in group}

    # -- input ------------------------------------------------------------------------------------------------

    def add(self, records: Iterable[R]) -> None:
        """Buffer fetched records (in offset order per partition); records of unassigned partitions are dropped."""
        for record in records:
            part = self._groups.get(record.partition, {}).get(record.topic)
            if part is not None:
                part.buffer.append(record)

    def set_caught_up(self, topic: str, number: int, caught_up: bool) -> None:
        """Whether the partition has been fetched to its end (its position at the broker's highwater)."""
        part = self._groups.get(number, {}).get(topic)
        if part is not None:
            part.caught_up = caught_up

    def buffered(self, topic: str, number: int) -> int:
        part = self._groups.get(number, {}).get(topic)
        return len(part.buffer) if part is not None else 0

    def first_held_offset(self, topic: str, number: int) -> int | None:
        """The offset of the partition's first buffered record (None when it holds none)."""
        part = self._groups.get(number, {}).get(topic)
        return part.buffer[0].offset if part is not None and part.buffer else None

    def total_buffered(self) -> int:
        return sum(len(part.buffer) for group in self._groups.values() for part in group.values())

    # -- output -----------------------------------------------------------------------------------------------

    def release(
        self,
        *,
        table_time: datetime | None = END_OF_TIME,
        limit: int | None = None,
        ready: Callable[[int], bool] | None = None,
    ) -> list[R]:
        """The records that may be handed on now, each group's in order (groups are independent); ``ready``
        (optional) says which partition numbers may release at all now."""
        released: list[R] = []
        for number in sorted(self._groups):
            if ready is not None and not ready(number):
                continue
            self._release_group(self._groups[number], table_time, released, limit)
            if limit is not None and len(released) >= limit:
                break
        return released

    def blocked_by(self) -> set[tuple[str, int]]:
        """The partitions that hold a buffered record back now: empty, not caught up, in a group with records."""
        waiting: set[tuple[str, int]] = set()
        for number, group in self._groups.items():
            if any(part.buffer for part in group.values()):
                waiting |= {(topic, number) for topic, part in group.items() if not part.buffer and not part.caught_up}
        return waiting

    def _release_group(
        self, group: dict[str, _Partition[R]], table_time: datetime | None, out: list[R], limit: int | None
    ) -> None:
        while limit is None or len(out) < limit:
            heads = [part for part in group.values() if part.buffer]
            if not heads:
                return
            if any(not part.buffer and not part.caught_up for part in group.values()):
                return  # a partition behind may still hold an earlier record
            first = min(heads, key=lambda part: self._order(part.buffer[0]))
            if table_time is None or self._time_of(first.buffer[0]) > table_time:
                return
            out.append(first.buffer.popleft())
