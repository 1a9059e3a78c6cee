"""Topic ownership end to end (EVENTS.md v1.1): a ``rapport.intake.clinician-assigned`` on ``intake.events`` whose
``source`` is the session service, not intake, is dead-lettered by every consumer of the topic (reason
``foreign-source``) and has no other effect: session and consent keep the real assignment, and the alliance
monitor records nothing of it. The client and both clinicians are real (registered through intake's API), so
the forgery would have moved the client to a clinician every service knows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer

from rapport_common.events import encode_event, new_event
from rapport_common.events.catalog import dlq_topic
from rapport_common.events.intake import ClinicianAssigned, ClinicianAssignedData
from rapport_common.kafka.producer import EventProducer
from rapport_common.kafka.reading import topic_partitions
from soak.world import make_team, onboard, wait_known

TOPIC = "intake.events"


def _groups(suite: Any) -> dict[str, str]:
    """Each service's consumer group on intake.events."""
    return {
        "session": suite.app("session").state.runtime.settings.intake_consumer_group,
        "consent": suite.app("consent").state.runtime.settings.consent_consumer_group,
        "alliance-monitor": suite.app("alliance-monitor").state.runtime.settings.consumer_group,
    }


async def _probe(api: Any, client: str, clinician: str) -> dict[str, int]:
    """The status each service answers the clinician about the client (200 only for the clinician of record)."""
    headers = api.auth("clinician", clinician)
    probes = {
        "session": ("/messages", {"client_id": client}),
        "consent": (f"/clients/{client}/consents", None),
        "alliance-monitor": (f"/clients/{client}/trend", None),
    }
    return {
        service: (await api.client(service).get(path, params=params, headers=headers)).status_code
        for service, (path, params) in probes.items()
    }


async def test_a_forged_clinician_assignment_is_dead_lettered_and_changes_nothing(
    suite: Any, kafka_idempotence: bool
) -> None:
    api = suite.api
    team = await make_team(api, 2)
    real, other = team.clinicians
    pair = await onboard(api, team, real, intake=False, consents=())
    await wait_known(api, pair)
    client = pair.client

    now = datetime.now(UTC)
    forged = new_event(
        ClinicianAssigned,
        subject=client,
        source="/rapport/session",  # a writer that is not intake.events' owner
        time=now,
        data=ClinicianAssignedData(client_id=client, clinician_id=other, assigned_at=now),
    )
    dlq = dlq_topic(TOPIC)
    reader = AIOKafkaConsumer(bootstrap_servers=suite.kafka, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = await topic_partitions(reader, [dlq])
        reader.assign(partitions)
        await reader.seek_to_end(*partitions)
        for tp in partitions:
            await reader.position(tp)
        producer = EventProducer(suite.kafka, enable_idempotence=kafka_idempotence, client_id="forger")
        await producer.start()
        try:
            await producer.send(encode_event(forged))
        finally:
            await producer.stop()
        groups = _groups(suite)
        dead: dict[str, dict[str, str]] = {}  # consumer group -> DLQ headers
        async with asyncio.timeout(30):
            while not set(groups.values()) <= set(dead):
                for batch in (await reader.getmany(timeout_ms=200)).values():
                    for record in batch:
                        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
                        if headers.get("rapport-id") == forged.id:
                            dead[headers["dlq-consumer-group"]] = headers
    finally:
        await reader.stop()

    for service, group in groups.items():
        headers = dead[group]
        assert (headers["dlq-reason"], headers["dlq-field"]) == ("foreign-source", "source"), service
        assert headers["dlq-source-topic"] == TOPIC, service

    # the services' views: still the real clinician of record
    for service in ("session", "consent"):
        stored = await suite.pool(service).fetchval("SELECT clinician_id FROM assignments WHERE client_id = $1", client)
        assert stored == real, service
    assert await _probe(api, client, real) == {"session": 200, "consent": 200, "alliance-monitor": 200}
    assert await _probe(api, client, other) == {"session": 403, "consent": 403, "alliance-monitor": 403}

    # the monitor: no trace of the forged event in any state, hold or alert
    monitor = suite.pool("alliance-monitor")
    assert await monitor.fetchval("SELECT clinician_id FROM client_states WHERE client_id = $1", client) == real
    assert await monitor.fetchval("SELECT count(*) FROM pair_states WHERE clinician_id = $1", other) == 0
    pattern = f"%{forged.id}%"
    for table in ("client_states", "clinician_states", "pair_states"):
        found = await monitor.fetchval(f"SELECT count(*) FROM {table} WHERE state::text LIKE $1", pattern)
        assert found == 0, table
    assert await monitor.fetchval("SELECT count(*) FROM consent_holds WHERE event_id = $1", forged.id) == 0
    assert await monitor.fetchval("SELECT count(*) FROM alerts WHERE client_id = $1", client) == 0
