"""What the consent service publishes (`consent.events`) and consumes (`intake.events`).

Published events go through the outbox in the transaction of the change they report. From intake the
service learns each client's age band (does a grant need a guardian?) and assigned clinician (who may
record verbal consent); both are projections, applied idempotently with the inbox.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from rapport_common.db import inbox
from rapport_common.events import new_event
from rapport_common.events.consent import (
    ConsentExpired,
    ConsentExpiredData,
    ConsentGranted,
    ConsentGrantedData,
    ConsentRevoked,
    ConsentRevokedData,
    ConsentScope,
    GrantedBy,
    RevokedBy,
)
from rapport_common.events.intake import TOPIC as INTAKE_TOPIC
from rapport_common.events.intake import ClientRegistered, ClinicianAssigned
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.service import ServiceRuntime
from rapport_common.telemetry import current_traceparent
from rapport_consent.store import consents as store

log = logging.getLogger(__name__)

SOURCE = "/rapport/consent"
INTAKE_CONSUMER = "consent-intake"


def granted(consent: dict[str, Any]) -> ConsentGranted:
    return new_event(
        ConsentGranted,
        subject=consent["client_id"],
        source=SOURCE,
        time=consent["recorded_at"],
        traceparent=current_traceparent(),
        data=ConsentGrantedData(
            consent_id=consent["consent_id"],
            client_id=consent["client_id"],
            scope=consent["scope"],
            granted_by=GrantedBy(actor_id=consent["granted_by_id"], role=consent["granted_by_role"]),
            method=consent["method"],
            document_version=consent["document_version"],
            valid_from=consent["valid_from"],
            valid_until=consent["valid_until"],
        ),
    )


def revoked(consent: dict[str, Any], revocation: dict[str, Any]) -> ConsentRevoked:
    return new_event(
        ConsentRevoked,
        subject=consent["client_id"],
        source=SOURCE,
        time=revocation["recorded_at"],
        traceparent=current_traceparent(),
        data=ConsentRevokedData(
            consent_id=consent["consent_id"],
            client_id=consent["client_id"],
            scope=consent["scope"],
            revoked_by=RevokedBy(actor_id=revocation["revoked_by_id"], role=revocation["revoked_by_role"]),
            effective_at=revocation["effective_at"],
            reason=revocation["reason"],
        ),
    )


def expired(consent_id: str, client_id: str, scope: ConsentScope, expired_at: datetime) -> ConsentExpired:
    """Event time is when the validity ended (that is when it happened), not when the job noticed."""
    return new_event(
        ConsentExpired,
        subject=client_id,
        source=SOURCE,
        time=expired_at,
        data=ConsentExpiredData(consent_id=consent_id, client_id=client_id, scope=scope, expired_at=expired_at),
    )


def intake_consumer(runtime: ServiceRuntime) -> BatchConsumer:
    settings = runtime.settings
    pool = runtime.pool

    async def handle(batch: list[ConsumedEvent]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            new_ids = await inbox.claim(conn, INTAKE_CONSUMER, [item.event.id for item in batch])
            for item in batch:
                event = item.event
                if event.id not in new_ids:
                    continue
                if isinstance(event, ClientRegistered):
                    await store.record_client(conn, event.data.client_id, event.data.age_band, event.time)
                elif isinstance(event, ClinicianAssigned):
                    await store.record_assignment(
                        conn, event.data.client_id, event.data.clinician_id, event.data.assigned_at
                    )
        log.debug("intake batch applied", extra={"count": len(batch)})

    return BatchConsumer(
        service="consent",
        group_id=settings.consent_consumer_group,
        topics=[INTAKE_TOPIC],
        handler=handle,
        dead_letters=runtime.producer,
        **settings.consumer_options(),
    )
