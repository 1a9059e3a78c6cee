"""What the consent service publishes (`consent.events`) and consumes (`intake.events`).

Published events go through the outbox in the transaction of the change they report. From intake the
service learns each client's age band (does a grant need a guardian?) and assigned clinician (who may
record verbal consent); both are projections, applied idempotently with the inbox.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from rapport_common.application.handlers import EventHandlers
from rapport_common.events import intake, new_event
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
from rapport_common.kafka.consumer import BatchConsumer
from rapport_common.projections import intake_view
from rapport_common.telemetry import current_traceparent
from rapport_consent.runtime import ConsentRuntime

log = logging.getLogger(__name__)

SOURCE = "/rapport/consent"


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


INTAKE = EventHandlers(
    service="consent",
    consumer="consent-intake",
    topic=intake.TOPIC,
    summary="the intake view: whether a grant needs a guardian (age band), who may record verbal consent",
)
intake_view.learn_from(INTAKE)

#: what the service consumes, for the AsyncAPI document
SUBSCRIPTIONS = (INTAKE.subscription,)


def intake_consumer(runtime: ConsentRuntime) -> BatchConsumer:
    return runtime.event_consumer(INTAKE, group_id=runtime.settings.consent_consumer_group)
