"""The monitor's own Prometheus metrics (labels never carry client or clinician ids)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ALERTS_RAISED = Counter("rapport_alliance_alerts_raised_total", "Alerts raised", ["rule", "severity"])
ALERTS_RESOLVED = Counter("rapport_alliance_alerts_resolved_total", "Alerts resolved (by rule or person)", ["rule"])
ALERT_LATENCY = Histogram(
    "rapport_alliance_alert_latency_seconds",
    "From the triggering event's time to the alert stored",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
CONSENT_HOLDS = Gauge("rapport_alliance_consent_holds", "Events held waiting for a consent that may still arrive")
LATE_EVENTS = Counter(
    "rapport_alliance_late_events_total",
    "Events judged after a later event of their pair (a producer truly late): processed, possibly judged on "
    "a history that already held later events",
    ["topic"],
)
