"""What this service consumes: ``intake.events`` (the intake view: care assignments and age bands) and
``consent.events`` (the local consent view used when the consent service does not answer).

Each consumer is a set of per-event-type handlers; a batch runs in one unit of work. Intake events are
claimed in the inbox first, so a redelivered batch changes nothing; applying a consent event is an
idempotent upsert, no inbox needed. Other event types are acknowledged and ignored.
"""

from __future__ import annotations

from rapport_common.application.handlers import EventHandlers
from rapport_common.application.unit_of_work import UnitOfWork
from rapport_common.events import consent, intake
from rapport_common.events.consent import ConsentExpired, ConsentGranted, ConsentRevoked
from rapport_common.kafka.consumer import BatchConsumer
from rapport_common.projections import intake_view
from rapport_session.runtime import SessionRuntime
from rapport_session.store import consent_view

INTAKE = EventHandlers(
    service="session",
    consumer="session-intake",
    topic=intake.TOPIC,
    summary="the intake view: who may act for a client, which ORS form (age band)",
)
intake_view.learn_from(INTAKE)

CONSENTS = EventHandlers(
    service="session",
    consumer="session-consent",
    topic=consent.TOPIC,
    summary="the local consent view, used when the consent service does not answer",
    inbox=False,
)


@CONSENTS.on(ConsentGranted)
async def consent_granted(uow: UnitOfWork, event: ConsentGranted) -> None:
    d = event.data
    await consent_view.apply(uow.conn, [(d.consent_id, d.client_id, d.scope, d.valid_from, d.valid_until)], [])


@CONSENTS.on(ConsentRevoked)
async def consent_revoked(uow: UnitOfWork, event: ConsentRevoked) -> None:
    d = event.data
    await consent_view.apply(uow.conn, [], [(d.consent_id, d.client_id, d.scope, d.effective_at)])


@CONSENTS.on(ConsentExpired)
async def consent_expired(uow: UnitOfWork, event: ConsentExpired) -> None:
    d = event.data
    await consent_view.apply(uow.conn, [], [(d.consent_id, d.client_id, d.scope, d.expired_at)])


#: what the service consumes, for the AsyncAPI document
SUBSCRIPTIONS = (INTAKE.subscription, CONSENTS.subscription)


def intake_consumer(runtime: SessionRuntime) -> BatchConsumer:
    return runtime.event_consumer(INTAKE, group_id=runtime.settings.intake_consumer_group)


def consent_consumer(runtime: SessionRuntime) -> BatchConsumer:
    return runtime.event_consumer(CONSENTS, group_id=runtime.settings.consent_consumer_group)
