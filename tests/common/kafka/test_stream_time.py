"""The stream-time merger releases each group's records in event-time order, whatever the fetch interleaving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from rapport_common.kafka.stream_time import END_OF_TIME, StreamTimeMerger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOPICS = ("intake", "session", "feedback")


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    time: datetime


def order(rec: Rec) -> tuple[datetime, int]:
    return rec.time, TOPICS.index(rec.topic)


def merger() -> StreamTimeMerger[Rec]:
    m: StreamTimeMerger[Rec] = StreamTimeMerger(order=order, time_of=lambda r: r.time)
    m.assign((topic, p) for topic in TOPICS for p in (0, 1))
    return m


def recs(topic: str, partition: int, minutes: list[int]) -> list[Rec]:
    return [Rec(topic, partition, i, T0 + timedelta(minutes=m)) for i, m in enumerate(sorted(minutes))]


def test_a_partition_behind_holds_its_group_until_it_is_read_past_the_time() -> None:
    m = merger()
    m.add(recs("feedback", 0, [5]))
    assert m.release() == []  # intake/0 and session/0 are neither buffered nor caught up
    assert m.blocked_by() == {("intake", 0), ("session", 0)}
    m.set_caught_up("intake", 0, True)
    m.add(recs("session", 0, [3, 7]))
    released = m.release()
    assert [(r.topic, r.time.minute) for r in released] == [("session", 3), ("feedback", 5)]
    # session 7 waits: feedback/0 is empty and not known to be at its end
    assert m.buffered("session", 0) == 1


def test_a_caught_up_idle_partition_never_holds_the_others_back() -> None:
    m = merger()
    for topic in TOPICS:
        m.set_caught_up(topic, 0, True)
    m.add(recs("session", 0, [1, 2, 3]))
    assert [r.time.minute for r in m.release()] == [1, 2, 3]


def test_groups_are_independent() -> None:
    m = merger()
    for topic in TOPICS:
        m.set_caught_up(topic, 1, True)
    m.add(recs("session", 0, [1]))  # group 0 waits for its intake and feedback partitions
    m.add(recs("session", 1, [9]))
    assert [(r.partition, r.time.minute) for r in m.release()] == [(1, 9)]


def test_the_table_must_be_read_past_a_records_time() -> None:
    m = merger()
    for topic in TOPICS:
        m.set_caught_up(topic, 0, True)
    m.add(recs("session", 0, [1, 10]))
    assert m.release(table_time=None) == []
    assert [r.time.minute for r in m.release(table_time=T0 + timedelta(minutes=5))] == [1]
    assert [r.time.minute for r in m.release(table_time=END_OF_TIME)] == [10]


def test_equal_times_go_in_topic_rank_and_a_partition_keeps_its_offset_order() -> None:
    m = merger()
    for topic in TOPICS:
        m.set_caught_up(topic, 0, True)
    same = T0 + timedelta(minutes=1)
    m.add([Rec("feedback", 0, 0, same), Rec("feedback", 0, 1, T0)])  # out of time order inside a partition
    m.add([Rec("intake", 0, 0, same)])
    assert [(r.topic, r.offset) for r in m.release()] == [("intake", 0), ("feedback", 0), ("feedback", 1)]


def test_revoked_partitions_forget_what_they_buffered() -> None:
    m = merger()
    m.add(recs("session", 0, [1, 2]))
    m.revoke([("session", 0)])
    assert m.buffered("session", 0) == 0 and ("session", 0) not in m.assigned()
    m.add(recs("session", 0, [3]))  # a late fetch answer of a revoked partition is dropped
    assert m.total_buffered() == 0


histories = st.fixed_dictionaries(
    {(topic, p): st.lists(st.integers(0, 50), max_size=12) for topic in TOPICS for p in (0, 1)}
)


@settings(max_examples=300, deadline=None)
@given(histories, st.randoms(use_true_random=False), st.integers(1, 5))
def test_any_interleaving_releases_each_group_in_event_time_order(
    history: dict[tuple[str, int], list[int]], rnd: Random, chunk: int
) -> None:
    by_partition = {key: recs(key[0], key[1], minutes) for key, minutes in history.items()}
    pending = {key: list(rs) for key, rs in by_partition.items()}
    m = merger()
    released: list[Rec] = []
    while any(pending.values()) or m.total_buffered():
        key = rnd.choice([k for k in pending])
        size = rnd.randint(0, chunk)
        take, pending[key] = pending[key][:size], pending[key][size:]
        m.add(take)
        m.set_caught_up(key[0], key[1], not pending[key])
        released += m.release(limit=rnd.randint(1, 6))
    for p in (0, 1):
        got = [r for r in released if r.partition == p]
        expected = sorted((r for key, rs in by_partition.items() if key[1] == p for r in rs), key=order)
        assert [order(r) for r in got] == [order(r) for r in expected]
        assert sorted(got, key=lambda r: (r.topic, r.offset)) == sorted(expected, key=lambda r: (r.topic, r.offset))
