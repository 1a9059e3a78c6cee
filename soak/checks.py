"""What "nothing lost, nothing duplicated" means, checked against the real databases and topics.

- every accepted (2xx) write is in its service's database (:func:`accepted_missing`);
- every event a service committed to its outbox is published and is on its topic, and no event id is on its
  topic more than once (:func:`event_census`);
- every consumer group has consumed everything (:func:`group_lag`);
- the alerts the planted inputs require exist, once each (:func:`alert_census`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from rapport_common.events.codec import event_id_of
from rapport_common.kafka.reading import topic_partitions
from soak.api import Accepted

#: consumer groups of the default deployment and the topics they read
GROUPS: dict[str, tuple[str, ...]] = {
    "session-intake": ("intake.events",),
    "session-consent": ("consent.events",),
    "consent": ("intake.events",),
    "alliance-monitor": ("intake.events", "consent.events", "session.events", "feedback.events"),
}
CONTRACT_TOPICS = ("intake.events", "consent.events", "session.events", "feedback.events", "alliance.alerts")

#: route pattern -> (service database, SQL counting the row, the id it needs)
_WRITES: list[tuple[re.Pattern[str], str, str, str]] = [
    (
        re.compile(r"POST /clinicians$"),
        "intake",
        "SELECT count(*) FROM clinicians WHERE clinician_id = $1",
        "clinician_id",
    ),
    (re.compile(r"POST /clients$"), "intake", "SELECT count(*) FROM clients WHERE client_id = $1", "client_id"),
    (
        re.compile(r"POST /clients/[^/]+/assignments$"),
        "intake",
        "SELECT count(*) FROM care_assignments WHERE client_id = $1",
        "client_id",
    ),
    (
        re.compile(r"POST /clients/[^/]+/intake$"),
        "intake",
        "SELECT count(*) FROM intakes WHERE intake_id = $1",
        "intake_id",
    ),
    (re.compile(r"POST /consents$"), "consent", "SELECT count(*) FROM consents WHERE consent_id = $1", "consent_id"),
    (re.compile(r"POST /sessions$"), "session", "SELECT count(*) FROM sessions WHERE session_id = $1", "session_id"),
    (
        re.compile(r"POST /sessions/[^/]+/start$"),
        "session",
        "SELECT count(*) FROM sessions WHERE session_id = $1 AND started_at IS NOT NULL",
        "session_id",
    ),
    (
        re.compile(r"POST /sessions/[^/]+/end$"),
        "session",
        "SELECT count(*) FROM sessions WHERE session_id = $1 AND ended_at IS NOT NULL",
        "session_id",
    ),
    (
        re.compile(r"POST /sessions/[^/]+/feedback/\w+$"),
        "session",
        "SELECT count(*) FROM feedback_responses WHERE response_id = $1",
        "response_id",
    ),
    (re.compile(r"POST /messages$"), "session", "SELECT count(*) FROM messages WHERE message_id = $1", "message_id"),
]


async def accepted_missing(database_urls: Mapping[str, str], accepted: Iterable[Accepted]) -> list[str]:
    """Accepted writes whose effect is not in the database (each described)."""
    missing: list[str] = []
    conns = {name: await asyncpg.connect(url) for name, url in database_urls.items()}
    try:
        for write in accepted:
            for pattern, service, sql, id_name in _WRITES:
                if pattern.search(write.route) and id_name in write.ids:
                    if await conns[service].fetchval(sql, write.ids[id_name]) != 1:
                        missing.append(f"{write.route} {id_name}={write.ids[id_name]}")
                    break
    finally:
        for conn in conns.values():
            await conn.close()
    return missing


def checked_routes(accepted: Iterable[Accepted]) -> Counter[str]:
    """How many accepted writes of each kind :func:`accepted_missing` can check."""
    kinds: Counter[str] = Counter()
    for write in accepted:
        for pattern, _service, _sql, id_name in _WRITES:
            if pattern.search(write.route) and id_name in write.ids:
                kinds[pattern.pattern] += 1
                break
    return kinds


async def read_topics(kafka: str, topics: Iterable[str], *, quiet_s: float = 1.5) -> dict[TopicPartition, list[str]]:
    """Every record of ``topics`` from the beginning, as event ids in offset order per partition.

    Reads until nothing new arrived for ``quiet_s``: the embedded broker's ListOffsets answer can lag behind
    the last record of a partition, so its end offsets are not used as the stopping point."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20, fetch_max_wait_ms=100
    )
    await consumer.start()
    result: dict[TopicPartition, list[str]] = {}
    try:
        partitions = await topic_partitions(consumer, topics)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        for tp in partitions:
            result[tp] = []
        last_new = time.monotonic()
        while time.monotonic() - last_new < quiet_s:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    event_id = event_id_of(record.headers)  # the routing header, new or pre-v1.1 name
                    if event_id is None:
                        try:
                            event_id = str(json.loads(record.value or b"{}").get("id", "?"))
                        except ValueError:
                            event_id = "?"
                    result[tp].append(event_id)
                if records:
                    last_new = time.monotonic()
    finally:
        await consumer.stop()
    return result


async def topic_ids(kafka: str, topics: Iterable[str]) -> dict[str, Counter[str]]:
    """topic -> event id -> how many records carry it."""
    result: dict[str, Counter[str]] = {topic: Counter() for topic in topics}
    for tp, ids in (await read_topics(kafka, topics)).items():
        result[tp.topic].update(ids)
    return result


@dataclass
class Census:
    committed: int = 0  # outbox rows
    pending: int = 0  # not yet published
    not_on_topic: list[str] = field(default_factory=list)  # published (or pending) but absent from the topic
    duplicated: dict[str, int] = field(default_factory=dict)  # topic -> records beyond the first per event id
    records: int = 0


async def event_census(database_urls: Mapping[str, str], kafka: str) -> Census:
    """Outbox rows of every service against the records on the contract topics."""
    census = Census()
    outbox: list[tuple[str, str, str]] = []
    for url in database_urls.values():
        conn = await asyncpg.connect(url)
        try:
            for row in await conn.fetch("SELECT event_id, topic, state FROM outbox"):
                outbox.append((row["event_id"], row["topic"], row["state"]))
        finally:
            await conn.close()
    on_topics = await topic_ids(kafka, CONTRACT_TOPICS)
    census.committed = len(outbox)
    census.pending = sum(1 for _, _, state in outbox if state != "published")
    census.not_on_topic = [f"{topic}:{event_id}" for event_id, topic, _ in outbox if on_topics[topic][event_id] == 0]
    for topic, ids in on_topics.items():
        census.records += sum(ids.values())
        extra = sum(count - 1 for count in ids.values() if count > 1)
        if extra:
            census.duplicated[topic] = extra
    return census


async def group_lag(kafka: str, groups: Mapping[str, Iterable[str]] = GROUPS, *, exact: bool = True) -> dict[str, int]:
    """Records not yet committed by each consumer group: records on its topics minus committed offsets.

    ``exact`` counts the records by reading the topics until they are quiet (for a settled system: the embedded
    broker's end offsets can lag by a record); otherwise the broker's end offsets are used (a sample under load,
    where topics are never quiet)."""
    all_topics = sorted({topic for topics in groups.values() for topic in topics})
    if exact:
        counts = {tp: len(ids) for tp, ids in (await read_topics(kafka, all_topics, quiet_s=0.6)).items()}
    else:
        probe = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
        await probe.start()
        try:
            partitions = await topic_partitions(probe, all_topics)
            counts = dict(await probe.end_offsets(partitions))
        finally:
            await probe.stop()
    lags: dict[str, int] = {}
    for group, topics in groups.items():
        reader = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
        await reader.start()
        try:
            total = 0
            for tp, count in counts.items():
                if tp.topic in topics:
                    total += max(0, count - (await reader.committed(tp) or 0))
            lags[group] = total
        finally:
            await reader.stop()
    return lags


async def wait_drained(
    database_urls: Mapping[str, str],
    kafka: str,
    *,
    within_s: float = 120.0,
    groups: Mapping[str, Iterable[str]] = GROUPS,
) -> tuple[float, dict[str, int], int]:
    """Seconds until every outbox is published, every consent hold is decided and every group's lag is zero
    (or the deadline); the third value counts the outbox rows and holds still pending.

    A held event is committed on Kafka (lag zero) yet not judged: it waits up to the hold time for a grant, and
    the client's later events wait behind it (event-time order), so their alerts come after it is decided.
    """
    started = time.monotonic()
    while True:
        pending = 0
        for url in database_urls.values():
            conn = await asyncpg.connect(url)
            try:
                pending += await conn.fetchval("SELECT count(*) FROM outbox WHERE state <> 'published'")
                if await conn.fetchval("SELECT to_regclass('consent_holds') IS NOT NULL"):
                    pending += await conn.fetchval("SELECT count(*) FROM consent_holds")
            finally:
                await conn.close()
        lags = await group_lag(kafka, groups)
        if (pending == 0 and not any(lags.values())) or time.monotonic() - started > within_s:
            return time.monotonic() - started, lags, pending
        await asyncio.sleep(0.5)


async def alert_census(
    monitor_database_url: str, rules: Iterable[str], clients: Iterable[str]
) -> Counter[tuple[str, str]]:
    """(rule, client) -> number of distinct alerts in the monitor's database, for ``clients`` only (a simulator
    may run beside the checker with clients of its own)."""
    conn = await asyncpg.connect(monitor_database_url)
    try:
        rows = await conn.fetch(
            "SELECT rule, client_id, count(*) AS n FROM alerts WHERE rule = ANY($1::text[]) "
            "AND client_id = ANY($2::text[]) GROUP BY rule, client_id",
            list(rules),
            list(clients),
        )
    finally:
        await conn.close()
    return Counter({(row["rule"], row["client_id"]): row["n"] for row in rows})


def compare_alerts(
    expected: Counter[tuple[str, str]], uncertain: Counter[tuple[str, str]], found: Counter[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """(missing, duplicated): fewer alerts than the certain inputs require, or more than all inputs allow."""
    missing, duplicated = [], []
    for key in set(expected) | set(uncertain) | set(found):
        low, high = expected[key], expected[key] + uncertain[key]
        if found[key] < low:
            missing.append(f"{key}: {found[key]} < {low}")
        elif found[key] > high:
            duplicated.append(f"{key}: {found[key]} > {high}")
    return missing, duplicated


def summary(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)
