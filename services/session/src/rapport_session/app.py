"""Wiring of the session service: its routes, consumers and jobs on the shared service runtime."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rapport_common.clock import Clock
from rapport_common.kafka.consumer import BatchConsumer
from rapport_common.service import Foundation, ServiceSpec, create_app
from rapport_session.api import feedback, messages, sessions, telemetry
from rapport_session.consent_client import ConsentClient, ConsentUnavailable
from rapport_session.consumers import consent_consumer, intake_consumer
from rapport_session.domain.message_flags import MessageFlagConfig
from rapport_session.runtime import SessionParts, SessionRuntime
from rapport_session.settings import SessionSettings
from rapport_session.timers import timer_worker


def _consumers(runtime: SessionRuntime) -> list[BatchConsumer]:
    return [intake_consumer(runtime), consent_consumer(runtime)]


def _consent_view_current(base: Foundation[SessionSettings]) -> bool:
    """The local consent view is current while its consumer keeps catching up (``consent_view_max_age_s``)."""
    settings = base.settings
    try:
        caught_up = base.consumer(settings.consent_consumer_group).caught_up_at
    except KeyError:  # consumers not built yet (start-up)
        return False
    return caught_up is not None and time.monotonic() - caught_up <= settings.consent_view_max_age_s


async def _consent_unavailable(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConsentUnavailable)
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after_s)})


def _customise(app: FastAPI) -> None:
    app.add_exception_handler(ConsentUnavailable, _consent_unavailable)


async def _compose(base: Foundation[SessionSettings]) -> SessionParts:
    settings = base.settings
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    return SessionParts(
        flag_config=MessageFlagConfig(
            clinic_phone_numbers=frozenset(settings.clinic_phone_numbers),
            platform_domains=frozenset(settings.platform_domains),
        ),
        consent=ConsentClient(
            base_url=settings.consent_service_url,
            check_path=settings.consent_check_path,
            timeout_s=settings.consent_timeout_s,
            cache_ttl_s=settings.consent_cache_ttl_s,
            jwt_secret=secret,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            view=base.pool,
            view_current=lambda: _consent_view_current(base),
            now=base.clock.now,
        ),
    )


async def _close(parts: SessionParts) -> None:
    await parts.consent.close()


SPEC = ServiceSpec[SessionSettings, SessionParts](
    name="session",
    settings_cls=SessionSettings,
    migrations=Path(__file__).parent / "migrations",
    compose=_compose,
    routers=(sessions.router, telemetry.router, messages.router, feedback.router),
    consumers=_consumers,
    workers=lambda runtime: [timer_worker(runtime)],
    close=_close,
    customise=_customise,
    description="Scheduling, live telehealth sessions, telemetry, messaging flags and feedback capture.",
)


def build_app(settings: SessionSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The app; ``clock`` replaces the system clock (tests, simulations of time)."""
    return create_app(SPEC, settings, clock=clock)
