"""Who sees which alert (DOMAIN.md, minimum necessary). One rule, used by the API, the SQL and the SSE hub.

- clinician: alerts with audience ``clinician`` about their own pairs;
- supervisor: alerts with audience ``supervisor`` of the clinicians whose registration names them as
  supervisor (learned from ``clinician-registered``);
- compliance: alerts with audience ``compliance``.
Acting on an alert (acknowledge, resolve) needs the same right: the clinician of record, the team's
supervisor, or compliance for compliance alerts (``consent-violation`` stays open until a person resolves it,
and compliance is its only audience). Every other role sees no alert.
"""

from __future__ import annotations

from rapport_common.auth import Principal

ALERT_ROLES = ("clinician", "supervisor", "compliance")


def can_see(principal: Principal, *, clinician_id: str, audience: str, supervisor_id: str | None) -> bool:
    if principal.role == "clinician":
        return audience == "clinician" and clinician_id == principal.subject
    if principal.role == "supervisor":
        return audience == "supervisor" and supervisor_id is not None and supervisor_id == principal.subject
    if principal.role == "compliance":
        return audience == "compliance"
    return False
