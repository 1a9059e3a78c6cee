"""Wiring of the alliance-monitor service: its routes, consumers and jobs on the shared service runtime.

Start-up loads the rules config (``RULES_CONFIG_PATH``; settings validation already refused a bad file with
the offending key). Three long-running parts share the runtime's consumer slot so shutdown stops them at
once: the consumer group over the input topics, the consent-hold job, and the SSE alert hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI

from rapport_alliance_monitor.api import alerts, stream, trend
from rapport_alliance_monitor.consent_holds import ConsentHoldJob
from rapport_alliance_monitor.consumers import monitor_consumer
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_alliance_monitor.sse.hub import AlertHub
from rapport_common.kafka.consumer import BatchConsumer
from rapport_common.service import ServiceRuntime, ServiceSpec, create_app


async def _start(runtime: ServiceRuntime) -> None:
    settings: AllianceMonitorSettings = runtime.settings
    runtime.extras["rules"] = settings.rules_config()
    runtime.extras["hub"] = AlertHub(settings.database_url, runtime.pool, poll_s=settings.sse_poll_s)


def _consumers(runtime: ServiceRuntime) -> list[BatchConsumer]:
    settings: AllianceMonitorSettings = runtime.settings
    consumer = monitor_consumer(runtime)
    hold_job = ConsentHoldJob(
        runtime.pool, runtime.extras["rules"], poll_s=settings.consent_hold_poll_s, consumer=consumer
    )
    # the hub and the hold job have the consumer shape (start/run/stop/close): stopped at once on shutdown
    return [consumer, cast(Any, hold_job), cast(Any, runtime.extras["hub"])]


SPEC = ServiceSpec(
    name="alliance-monitor",
    settings_cls=AllianceMonitorSettings,
    migrations=Path(__file__).parent / "migrations",
    # the stream route comes before /alerts/{alert_id} so "stream" is not taken for an alert id
    routers=(stream.router, alerts.router, trend.router),
    consumers=_consumers,
    on_start=_start,
    description="Consent-gated alliance rules over the event streams; alerts, live alert stream, trend data.",
)


def build_app(settings: AllianceMonitorSettings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
