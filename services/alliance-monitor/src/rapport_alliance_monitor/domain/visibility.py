"""Who sees which alert (DOMAIN.md, minimum necessary): one declaration, read by the API, the SQL and the hub.

- clinician: alerts with audience ``clinician`` about their own pairs;
- supervisor: alerts with audience ``supervisor`` of the clinicians whose registration names them as
  supervisor (learned from ``clinician-registered``);
- compliance: alerts with audience ``compliance``.
Acting on an alert (acknowledge, resolve) needs the same right: the clinician of record, the team's
supervisor, or compliance for compliance alerts (``consent-violation`` stays open until a person resolves it,
and compliance is its only audience). Every other role sees no alert.

:func:`visibility_of` is the whole rule. It answers with an :class:`AlertFilter` (the alert columns that must
equal given values) rather than a predicate, so the Python check (:meth:`AlertFilter.admits`) and the SQL
condition (``store.alerts``) are both read off the same fields and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from rapport_common.auth import Principal
from rapport_common.events.alerts import Audience

#: the roles :func:`visibility_of` lets see some alerts (the routes require one of them)
ALERT_ROLES = ("clinician", "supervisor", "compliance")


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """The alerts whose columns equal every field set here; a field left None does not restrict.

    Field names are the alert row's column names (``supervisor_id``: the supervisor of the alert's clinician,
    joined from the clinician's registration). An alert column that is NULL never equals a value.
    """

    audience: Audience
    clinician_id: str | None = None
    supervisor_id: str | None = None

    def conditions(self) -> tuple[tuple[str, str], ...]:
        """``(column, value)`` pairs an alert must match, in field order."""
        pairs = ((f.name, getattr(self, f.name)) for f in fields(self))
        return tuple((name, value) for name, value in pairs if value is not None)

    def admits(self, alert: Mapping[str, Any]) -> bool:
        """Whether ``alert`` (a row or dict with the condition columns) passes the filter."""
        return all(alert[column] == value for column, value in self.conditions())


def visibility_of(principal: Principal) -> AlertFilter | None:
    """The alerts ``principal`` may see and act on; None: no alert at all."""
    if principal.role == "clinician":
        return AlertFilter(audience="clinician", clinician_id=principal.subject)
    if principal.role == "supervisor":
        return AlertFilter(audience="supervisor", supervisor_id=principal.subject)
    if principal.role == "compliance":
        return AlertFilter(audience="compliance")
    return None


def can_see(principal: Principal, alert: Mapping[str, Any]) -> bool:
    """Whether ``principal`` may see ``alert`` (a row or dict with its audience, clinician and supervisor)."""
    visible = visibility_of(principal)
    return visible is not None and visible.admits(alert)
