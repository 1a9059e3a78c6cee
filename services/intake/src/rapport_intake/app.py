"""Wiring of the intake service: its routes, consumers and jobs on the shared service runtime."""

from pathlib import Path

from fastapi import FastAPI

from rapport_common.service import ServiceSpec, create_app
from rapport_intake.settings import IntakeSettings

SPEC = ServiceSpec(
    name="intake",
    settings_cls=IntakeSettings,
    migrations=Path(__file__).parent / "migrations",
)


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
