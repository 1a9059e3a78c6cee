"""Wiring of the alliance-monitor service: its routes, consumers and jobs on the shared service runtime.

Start-up loads the rules config (``RULES_CONFIG_PATH``; settings validation already refused a bad file with
the offending key). One consumer group reads the input topics; two workers run beside it: the consent-hold
job and the SSE alert hub.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from rapport_alliance_monitor.api import alerts, stream, trend
from rapport_alliance_monitor.clinician_table import ClinicianTable
from rapport_alliance_monitor.consent_holds import ConsentHoldJob, hold_worker
from rapport_alliance_monitor.consumers import monitor_consumer
from rapport_alliance_monitor.runtime import MonitorParts, MonitorRuntime
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_alliance_monitor.sse.hub import AlertHub
from rapport_common.application.unit_of_work import Transactions
from rapport_common.clock import Clock
from rapport_common.events import intake
from rapport_common.events.catalog import contract_topic
from rapport_common.service import Foundation, ServiceSpec, create_app
from rapport_common.workers import Worker


async def _compose(base: Foundation[AllianceMonitorSettings]) -> MonitorParts:
    settings = base.settings
    rules = settings.rules_config()
    intake_topic = next((t for t in settings.consume_topics if contract_topic(t) == intake.TOPIC), None)
    clinicians = None
    if intake_topic is not None:
        clinicians = ClinicianTable(
            connection=settings.kafka_connection(),
            topic=intake_topic,
            transactions=Transactions(base.pool, base.clock),
            rules=rules,
            group=f"{settings.consumer_group}.clinician-table",
        )
    return MonitorParts(
        rules=rules,
        hub=AlertHub(settings.database_url, base.pool, poll_s=settings.sse_poll_s),
        clinicians=clinicians,
    )


def _workers(runtime: MonitorRuntime) -> list[Worker]:
    settings = runtime.settings
    job = ConsentHoldJob(runtime.transactions, runtime.parts.rules, consumer=runtime.consumer(settings.consumer_group))
    table = [runtime.parts.clinicians] if runtime.parts.clinicians is not None else []
    return [*table, hold_worker(job, poll_s=settings.consent_hold_poll_s), runtime.parts.hub]


SPEC = ServiceSpec[AllianceMonitorSettings, MonitorParts](
    name="alliance-monitor",
    settings_cls=AllianceMonitorSettings,
    migrations=Path(__file__).parent / "migrations",
    compose=_compose,
    # the stream route comes before /alerts/{alert_id} so "stream" is not taken for an alert id
    routers=(stream.router, alerts.router, trend.router),
    consumers=lambda runtime: [monitor_consumer(runtime)],
    workers=_workers,
    description="Consent-gated alliance rules over the event streams; alerts, live alert stream, trend data.",
)


def build_app(settings: AllianceMonitorSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The app; ``clock`` replaces the system clock (tests, simulations of time)."""
    return create_app(SPEC, settings, clock=clock)
