"""Wiring of the consent service: its routes, the intake consumer and the expiry job on the shared runtime."""

from pathlib import Path

from fastapi import FastAPI

from rapport_common.clock import Clock
from rapport_common.service import ServiceSpec, create_app, no_parts
from rapport_consent.api import compliance, consents
from rapport_consent.events import intake_consumer
from rapport_consent.expiry import expiry_worker
from rapport_consent.settings import ConsentSettings

SPEC = ServiceSpec[ConsentSettings, None](
    name="consent",
    settings_cls=ConsentSettings,
    migrations=Path(__file__).parent / "migrations",
    compose=no_parts,
    routers=[consents.router, compliance.router],
    consumers=lambda runtime: [intake_consumer(runtime)],
    workers=lambda runtime: [expiry_worker(runtime)],
    description="Scoped consents with a hash-chained, append-only ledger and compliance exports.",
)


def build_app(settings: ConsentSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The app; ``clock`` replaces the system clock (tests, simulations of time)."""
    return create_app(SPEC, settings, clock=clock)
