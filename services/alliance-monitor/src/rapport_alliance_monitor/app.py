"""Wiring of the alliance-monitor service: its routes, consumers and jobs on the shared service runtime."""

from pathlib import Path

from fastapi import FastAPI

from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_common.service import ServiceSpec, create_app

SPEC = ServiceSpec(
    name="alliance-monitor",
    settings_cls=AllianceMonitorSettings,
    migrations=Path(__file__).parent / "migrations",
)


def build_app(settings: AllianceMonitorSettings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
