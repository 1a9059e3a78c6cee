"""Wiring of the consent service: its routes, consumers and jobs on the shared service runtime."""

from pathlib import Path

from fastapi import FastAPI

from rapport_common.service import ServiceSpec, create_app
from rapport_consent.settings import ConsentSettings

SPEC = ServiceSpec(
    name="consent",
    settings_cls=ConsentSettings,
    migrations=Path(__file__).parent / "migrations",
)


def build_app(settings: ConsentSettings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
