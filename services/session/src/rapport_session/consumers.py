"""What this service consumes: ``intake.events`` (care assignments and age bands) and ``consent.events``
(the local consent view used when the consent service does not answer).

One transaction per batch. Intake: the inbox claims the event ids first, and only new events take effect,
so a redelivered batch changes nothing. Consent: applying is an idempotent upsert, no inbox needed. Other
event types are acknowledged and ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from rapport_common.db import inbox
from rapport_common.events.consent import ConsentExpired, ConsentGranted, ConsentRevoked
from rapport_common.events.intake import ClientRegistered, ClinicianAssigned
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.service import ServiceRuntime
from rapport_common.telemetry import event_span
from rapport_session.store import care, consent_view

CONSUMER = "session-intake"
INTAKE_TOPIC = "intake.events"
CONSENT_TOPIC = "consent.events"


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


async def apply_consents(pool: asyncpg.Pool, batch: list[ConsumedEvent]) -> None:
    grants: list[consent_view.Grant] = []
    ends: list[consent_view.End] = []
    for consumed in batch:
        event = consumed.event
        if isinstance(event, ConsentGranted):
            d = event.data
            grants.append((d.consent_id, d.client_id, d.scope, d.valid_from, d.valid_until))
        elif isinstance(event, ConsentRevoked):
            ends.append((event.data.consent_id, event.data.client_id, event.data.scope, event.data.effective_at))
        elif isinstance(event, ConsentExpired):
            ends.append((event.data.consent_id, event.data.client_id, event.data.scope, event.data.expired_at))
    if grants or ends:
        async with pool.acquire() as conn, conn.transaction():
            await consent_view.apply(conn, grants, ends)


def intake_consumer(runtime: ServiceRuntime) -> BatchConsumer:
    async def handle(batch: list[ConsumedEvent]) -> None:
        await apply_intake(runtime.pool, batch)

    return _consumer(runtime, runtime.settings.intake_consumer_group, INTAKE_TOPIC, handle)


def consent_consumer(runtime: ServiceRuntime) -> BatchConsumer:
    async def handle(batch: list[ConsumedEvent]) -> None:
        await apply_consents(runtime.pool, batch)

    return _consumer(runtime, runtime.settings.consent_consumer_group, CONSENT_TOPIC, handle)


def _consumer(
    runtime: ServiceRuntime, group_id: str, topic: str, handle: Callable[[list[ConsumedEvent]], Awaitable[None]]
) -> BatchConsumer:
    settings = runtime.settings
    return BatchConsumer(
        service="session",
        group_id=group_id,
        topics=[topic],
        handler=handle,
        dead_letters=runtime.producer,
        **settings.consumer_options(),
    )
