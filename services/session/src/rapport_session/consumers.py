"""What this service consumes: ``intake.events``, for the local view of care assignments and age bands.

One transaction per batch: the inbox claims the event ids first, and only new events take effect, so a
redelivered batch changes nothing. Other intake event types are acknowledged and ignored.
"""

from __future__ import annotations

import asyncpg

from rapport_common.db import inbox
from rapport_common.events.intake import ClientRegistered, ClinicianAssigned
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.service import ServiceRuntime
from rapport_common.telemetry import event_span
from rapport_session.store import care

CONSUMER = "session-intake"
INTAKE_TOPIC = "intake.events"


async def apply_intake(pool: asyncpg.Pool, batch: list[ConsumedEvent]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        new = await inbox.claim(conn, CONSUMER, [consumed.event.id for consumed in batch])
        for consumed in batch:
            event = consumed.event
            if event.id not in new:
                continue
            with event_span("session.apply-intake", event):
                if isinstance(event, ClinicianAssigned):
                    await care.assign(
                        conn,
                        client_id=event.data.client_id,
                        clinician_id=event.data.clinician_id,
                        assigned_at=event.data.assigned_at,
                    )
                elif isinstance(event, ClientRegistered):
                    await care.register_client(conn, client_id=event.data.client_id, age_band=event.data.age_band)


def intake_consumer(runtime: ServiceRuntime) -> BatchConsumer:
    settings = runtime.settings

    async def handle(batch: list[ConsumedEvent]) -> None:
        await apply_intake(runtime.pool, batch)

    return BatchConsumer(
        service="session",
        group_id=settings.intake_consumer_group,
        topics=[INTAKE_TOPIC],
        bootstrap_servers=settings.kafka_bootstrap_servers,
        handler=handle,
        dead_letters=runtime.producer,
        max_records=settings.kafka_max_batch,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        session_timeout_ms=settings.kafka_session_timeout_ms,
    )
