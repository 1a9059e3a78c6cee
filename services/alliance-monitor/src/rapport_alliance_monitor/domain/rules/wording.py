"""How alert summaries put numbers and times: prompts for reflection, never verdicts, no client free text."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rapport_alliance_monitor.domain.state import ClinicianState


def points(total_tenths: int) -> str:
    """Scale points from exact tenths: 394 -> '39.4'."""
    return f"{total_tenths // 10}.{total_tenths % 10}"


def clock(at: datetime, clinician: ClinicianState | None) -> str:
    """``HH:MM`` on the clinician's clock when known, else in UTC (and says so)."""
    if clinician is None:
        return f"{at.astimezone(ZoneInfo('UTC')):%H:%M} UTC"
    return f"{at.astimezone(ZoneInfo(clinician.timezone)):%H:%M}"


def percent(ratio: float) -> str:
    return f"{round(ratio * 100)}%"
