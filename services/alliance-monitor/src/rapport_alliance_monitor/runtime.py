"""The monitor's runtime type: the shared service runtime with its settings and the parts it builds."""

from __future__ import annotations

from dataclasses import dataclass

from rapport_alliance_monitor.clinician_table import ClinicianTable
from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_alliance_monitor.sse.hub import AlertHub
from rapport_common.service import ServiceRuntime


@dataclass(frozen=True)
class MonitorParts:
    rules: RulesConfig
    hub: AlertHub
    #: clinician registrations read from every partition (None when the monitor reads no intake topic)
    clinicians: ClinicianTable | None


MonitorRuntime = ServiceRuntime[AllianceMonitorSettings, MonitorParts]
