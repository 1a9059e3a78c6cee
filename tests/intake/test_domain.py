"""Pure intake rules: baseline ORS scoring, working-hour overlaps, the access rules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rapport_common.access import may_act_for_client
from rapport_common.auth import Principal
from rapport_common.refusal import Refusal
from rapport_intake.domain import access
from rapport_intake.domain.ors import score_baseline, score_tenths
from rapport_intake.domain.schedule import Interval, first_overlap


def items(a: float, b: float, c: float, d: float) -> dict[str, float]:
    return {"individual": a, "interpersonal": b, "social": c, "overall": d}


@pytest.mark.parametrize(
    ("age_band", "values", "total", "below"),
    [
        ("adult", (6.3, 6.2, 6.2, 6.2), 24.9, True),
        ("adult", (6.3, 6.3, 6.2, 6.2), 25.0, False),  # at the cutoff is not below it
        ("adolescent", (7.0, 7.0, 7.0, 6.9), 27.9, True),
        ("adolescent", (7.0, 7.0, 7.0, 7.0), 28.0, False),
        ("child", (8.1, 7.9, 8.0, 7.9), 31.9, True),
        ("child", (10.0, 10.0, 10.0, 10.0), 40.0, False),
        ("adult", (0.0, 0.0, 0.0, 0.0), 0.0, True),
    ],
)
def test_baseline_total_and_cutoff(age_band: str, values: tuple[float, ...], total: float, below: bool) -> None:
    score = score_baseline(items(*values), age_band)
    assert score.total == total
    assert score.below_cutoff is below
    assert score.clinical_cutoff == {"adult": 25.0, "adolescent": 28.0, "child": 32.0}[age_band]


def test_stored_totals_score_like_answered_items() -> None:
    """Caseloads score the stored total in tenths: at the cutoff is not below it, as for answered items."""
    assert score_tenths(250, "adult") == score_baseline(items(6.3, 6.3, 6.2, 6.2), "adult")
    assert score_tenths(249, "adult").below_cutoff and not score_tenths(320, "child").below_cutoff


tenth = st.integers(min_value=0, max_value=100).map(lambda n: n / 10)


@given(tenth, tenth, tenth, tenth)
def test_baseline_total_is_exact_in_tenths(a: float, b: float, c: float, d: float) -> None:
    total = score_baseline(items(a, b, c, d), "adult").total
    assert round(total * 10) == round(a * 10) + round(b * 10) + round(c * 10) + round(d * 10)
    assert total == round(total, 1)


def test_overlaps() -> None:
    assert first_overlap([Interval(0, "09:00", "12:00"), Interval(0, "12:00", "13:00")]) is None  # touching
    assert first_overlap([Interval(0, "09:00", "12:00"), Interval(1, "10:00", "11:00")]) is None  # other day
    assert first_overlap([Interval(0, "09:00", "12:00"), Interval(0, "11:59", "13:00")]) == (0, 1)
    assert first_overlap(
        [Interval(2, "08:00", "24:00"), Interval(3, "00:00", "01:00"), Interval(2, "10:00", "11:00")]
    ) == (
        0,
        2,
    )


@dataclass
class Caller:
    subject: str
    role: str


def test_access_rules() -> None:
    sup = Caller("s", "supervisor")
    assert access.may_name_supervisor(sup, "s") and not access.may_name_supervisor(sup, "t")
    assert access.may_name_supervisor(Caller("o", "operator"), "anyone")
    assert access.may_assign(sup, new_supervisor="s", current_supervisor=None, has_current=False)
    assert access.may_assign(sup, new_supervisor="s", current_supervisor="s", has_current=True)
    assert not access.may_assign(sup, new_supervisor="s", current_supervisor="t", has_current=True)
    assert not access.may_assign(sup, new_supervisor="t", current_supervisor=None, has_current=False)
    assert not access.may_assign(
        Caller("o", "operator"), new_supervisor=None, current_supervisor=None, has_current=False
    )
    assert not access.may_read_caseload(Caller("s", "supervisor"), clinician_id="a", supervisor_id=None)
    assert not access.sees_client_words(Caller("q", "compliance"))


def test_client_access_is_the_common_decision_with_intakes_roles() -> None:
    """Completing an intake and reading its summary ask rapport_common.access, naming the roles that work
    across all clients: the service completes any intake, compliance reads any summary."""
    complete, summary = access.COMPLETE_INTAKE_ALL_CLIENTS, access.INTAKE_SUMMARY_ALL_CLIENTS
    client, clinician = Principal("c", "client"), Principal("x", "clinician")
    assert may_act_for_client(client, client_id="c", clinician_of_record=None, all_clients=complete)
    assert not may_act_for_client(client, client_id="d", clinician_of_record="c", all_clients=complete)
    assert not may_act_for_client(clinician, client_id="c", clinician_of_record=None, all_clients=complete)
    assert may_act_for_client(clinician, client_id="c", clinician_of_record="x", all_clients=summary)
    assert may_act_for_client(Principal("s", "service"), client_id="c", clinician_of_record=None, all_clients=complete)
    assert not may_act_for_client(
        Principal("s", "service"), client_id="c", clinician_of_record=None, all_clients=summary
    )
    assert may_act_for_client(
        Principal("q", "compliance"), client_id="c", clinician_of_record=None, all_clients=summary
    )
    assert not may_act_for_client(
        Principal("o", "operator"), client_id="c", clinician_of_record="o", all_clients=summary
    )


def test_a_team_is_the_clinicians_whose_supervisor_id_names_the_supervisor() -> None:
    assert access.supervises(Caller("s", "supervisor"), "s")
    assert not access.supervises(Caller("s", "supervisor"), "t")
    assert not access.supervises(Caller("s", "supervisor"), None)
    assert not access.supervises(Caller("s", "clinician"), "s")  # a clinician named as someone's supervisor
    assert access.may_read_caseload(Caller("s", "supervisor"), clinician_id="a", supervisor_id="s")
    assert not access.may_read_caseload(Caller("s", "operator"), clinician_id="a", supervisor_id="s")


def test_registration_supervisor_defaults_a_supervisor_to_their_own_team() -> None:
    assert access.registration_supervisor(Caller("s", "supervisor"), None) == "s"
    assert access.registration_supervisor(Caller("s", "supervisor"), "s") == "s"
    assert access.registration_supervisor(Caller("o", "operator"), None) is None
    assert access.registration_supervisor(Caller("o", "operator"), "t") == "t"
    with pytest.raises(Refusal) as refused:
        access.registration_supervisor(Caller("s", "supervisor"), "t")
    assert (refused.value.status, refused.value.field) == (403, "supervisor_id")


def test_refusals_name_the_field() -> None:
    with pytest.raises(Refusal) as own:
        access.check_own_caseload(Caller("x", "clinician"), "a")
    with pytest.raises(Refusal) as team:
        access.check_caseload_reader(Caller("s", "supervisor"), clinician_id="a", supervisor_id="t")
    with pytest.raises(Refusal) as assigner:
        access.check_assigner(Caller("s", "supervisor"), new_supervisor="s", current_supervisor="t", has_current=True)
    assert [(r.value.status, r.value.field) for r in (own, team, assigner)] == [(403, "clinician_id")] * 3
    access.check_own_caseload(Caller("s", "supervisor"), "a")  # the supervisor's check comes with the facts
    access.check_caseload_reader(Caller("a", "clinician"), clinician_id="a", supervisor_id=None)
    access.check_assigner(Caller("svc", "service"), new_supervisor=None, current_supervisor=None, has_current=True)
