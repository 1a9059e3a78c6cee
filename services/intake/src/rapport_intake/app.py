"""Wiring of the intake service: its routes on the shared service runtime. Intake consumes no topics and
runs no jobs; what it publishes (`intake.events`, and the baseline on `feedback.events`) goes through the
common outbox relay."""

from pathlib import Path

from fastapi import FastAPI

from rapport_common.clock import Clock
from rapport_common.service import ServiceSpec, create_app, no_parts
from rapport_intake.api import clients, clinicians
from rapport_intake.settings import IntakeSettings

SPEC = ServiceSpec[IntakeSettings, None](
    name="intake",
    settings_cls=IntakeSettings,
    migrations=Path(__file__).parent / "migrations",
    compose=no_parts,
    routers=(clinicians.router, clients.router),
    description="Clinicians, client onboarding, baseline ORS and care assignment.",
)


def build_app(settings: IntakeSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The app; ``clock`` replaces the system clock (tests, simulations of time)."""
    return create_app(SPEC, settings, clock=clock)
