"""Intake's own Prometheus metrics (labels never carry client or clinician identifiers)."""

from prometheus_client import Counter

REGISTRATIONS = Counter(
    "rapport_intake_writes_total",
    "Accepted intake writes by kind (clinician, client, intake, assignment), replays excluded",
    ["kind"],
)
