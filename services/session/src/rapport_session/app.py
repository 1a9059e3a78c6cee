"""Wiring of the session service: its routes, consumers and jobs on the shared service runtime."""

from pathlib import Path

from fastapi import FastAPI

from rapport_common.service import ServiceSpec, create_app
from rapport_session.settings import SessionSettings

SPEC = ServiceSpec(
    name="session",
    settings_cls=SessionSettings,
    migrations=Path(__file__).parent / "migrations",
)


def build_app(settings: SessionSettings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
