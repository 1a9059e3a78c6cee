"""Broker security on a real Apache Kafka node (``--kafka-security``): SASL_SSL with a test CA made at start,
one SCRAM-SHA-512 principal per service, ACLs enforced by the broker. What the broker itself refuses, seen by
clients: a service writing another service's topic, reading a topic it does not consume, joining another
service's consumer group; a client without credentials, or with a wrong password, gets nothing."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from rapport_common.kafka.connection import KafkaConnection
from rapport_local.kafka import KafkaCluster
from rapport_local.kafka_security import SERVICE_GRANTS, BrokerSecurity
from rapport_local.topics import contract_topics, ensure_topics


@pytest.fixture(scope="module")
def secured() -> Iterator[KafkaCluster]:
    root = Path(tempfile.mkdtemp(prefix="rapport-kafka-security-"))
    cluster = KafkaCluster(data_dir=root, logs_dir=root / "logs", security=BrokerSecurity(root / "tls"))
    cluster.start_blocking()
    try:
        asyncio.run(ensure_topics(cluster.admin_connection(), contract_topics(), partitions=3))
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def as_session(secured: KafkaCluster) -> AsyncIterator[KafkaConnection]:
    yield secured.service_connection("session")


async def _send(connection: KafkaConnection, topic: str) -> int:
    producer = AIOKafkaProducer(
        **connection.aiokafka_options(), enable_idempotence=True, acks="all", request_timeout_ms=10_000
    )
    await producer.start()
    try:
        return (await producer.send_and_wait(topic, b"{}", key=b"k")).offset
    finally:
        await producer.stop()


async def _read(connection: KafkaConnection, topic: str, *, group: str | None = None) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        **connection.aiokafka_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
    )
    try:
        await asyncio.wait_for(consumer.start(), 20)
        if group is not None:
            consumer.subscribe([topic])
            batches = await consumer.getmany(timeout_ms=5000)
        else:
            partitions = [TopicPartition(topic, p) for p in range(3)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            batches = await consumer.getmany(timeout_ms=3000)
        return [record.value for records in batches.values() for record in records]
    finally:
        await consumer.stop()


async def test_a_service_writes_its_own_topics_and_is_refused_anothers(as_session: KafkaConnection) -> None:
    assert await _send(as_session, "session.events") >= 0
    assert await _send(as_session, "feedback.events") >= 0
    assert await _send(as_session, "intake.events.dlq") >= 0  # the DLQ of a topic it consumes
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(as_session, "intake.events")  # intake's topic: forging a clinician-assigned is refused
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(as_session, "alliance.alerts")


async def _visible_topics(connection: KafkaConnection) -> set[str]:
    consumer = AIOKafkaConsumer(**connection.aiokafka_options(), group_id=None)
    await consumer.start()
    try:
        return set(await consumer.topics())  # the broker lists only topics the principal may describe
    finally:
        await consumer.stop()


async def test_a_service_reads_only_what_it_consumes(secured: KafkaCluster, as_session: KafkaConnection) -> None:
    await _send(secured.admin_connection(), "intake.events")
    await _send(secured.admin_connection(), "alliance.alerts")
    assert await _read(as_session, "intake.events") != []
    assert await _read(as_session, "alliance.alerts") == []  # it holds a record; the broker gives none
    grant = SERVICE_GRANTS["session"]
    assert await _visible_topics(as_session) == set(grant.reads) | set(grant.writes)
    assert "alliance.alerts" in await _visible_topics(secured.admin_connection())


async def test_a_service_joins_only_its_own_consumer_groups(as_session: KafkaConnection) -> None:
    assert SERVICE_GRANTS["session"].group_prefix == "session"
    await _read(as_session, "intake.events", group="session-intake")
    with pytest.raises(GroupAuthorizationFailedError):
        await _read(as_session, "intake.events", group="alliance-monitor")


async def test_no_credentials_or_a_wrong_password_read_nothing(secured: KafkaCluster) -> None:
    await _send(secured.admin_connection(), "consent.events")
    plain = KafkaConnection(bootstrap_servers=secured.bootstrap_servers)  # no TLS, no SASL
    with pytest.raises((KafkaConnectionError, KafkaError, TimeoutError)):
        await _read(plain, "consent.events")
    wrong = secured.service_connection("alliance-monitor").as_user("alliance-monitor", "not-the-password")
    with pytest.raises((KafkaConnectionError, KafkaError, TimeoutError)):
        await _read(wrong, "consent.events")


def test_every_service_principal_has_a_password_of_its_own(secured: KafkaCluster) -> None:
    assert secured.security is not None
    passwords = {user: secured.security.passwords[user] for user in secured.security.users}
    assert len(set(passwords.values())) == len(passwords) and all(len(p) >= 24 for p in passwords.values())
    assert (secured.security.directory / "credentials.json").stat().st_mode & 0o077 == 0
