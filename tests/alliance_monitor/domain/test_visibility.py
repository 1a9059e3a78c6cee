"""The visibility declaration: who sees which alert, and the Python check read off it."""

from __future__ import annotations

import pytest

from rapport_alliance_monitor.domain.visibility import ALERT_ROLES, AlertFilter, can_see, visibility_of
from rapport_common.auth import ROLES, Principal


def alert(audience: str, clinician_id: str = "k1", supervisor_id: str | None = "s1") -> dict[str, str | None]:
    return {"audience": audience, "clinician_id": clinician_id, "supervisor_id": supervisor_id}


def test_each_alert_role_sees_its_audience_only() -> None:
    assert visibility_of(Principal("k1", "clinician")) == AlertFilter(audience="clinician", clinician_id="k1")
    assert visibility_of(Principal("s1", "supervisor")) == AlertFilter(audience="supervisor", supervisor_id="s1")
    assert visibility_of(Principal("p1", "compliance")) == AlertFilter(audience="compliance")


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ALERT_ROLES])
def test_other_roles_see_no_alert(role: str) -> None:
    principal = Principal("k1", role)  # type: ignore[arg-type]
    assert visibility_of(principal) is None
    assert not any(can_see(principal, alert(audience)) for audience in ("clinician", "supervisor", "compliance"))


def test_a_clinician_sees_clinician_alerts_of_their_own_pairs() -> None:
    k1 = Principal("k1", "clinician")
    assert can_see(k1, alert("clinician", "k1"))
    assert not can_see(k1, alert("clinician", "k2"))
    assert not can_see(k1, alert("supervisor", "k1"))


def test_a_supervisor_sees_supervisor_alerts_of_the_clinicians_naming_them() -> None:
    s1 = Principal("s1", "supervisor")
    assert can_see(s1, alert("supervisor", supervisor_id="s1"))
    assert not can_see(s1, alert("supervisor", supervisor_id="s2"))
    assert not can_see(s1, alert("supervisor", supervisor_id=None))  # clinician not registered: no supervisor
    assert not can_see(s1, alert("clinician", supervisor_id="s1"))


def test_compliance_sees_compliance_alerts_whoever_they_are_about() -> None:
    p1 = Principal("p1", "compliance")
    assert can_see(p1, alert("compliance", "k9", None))
    assert not can_see(p1, alert("supervisor"))


def test_conditions_are_the_fields_set_in_order() -> None:
    assert AlertFilter(audience="supervisor", supervisor_id="s1").conditions() == (
        ("audience", "supervisor"),
        ("supervisor_id", "s1"),
    )
