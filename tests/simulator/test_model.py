"""Pure unit tests: population, trajectory model and ground-truth bookkeeping are deterministic for a seed,
and the truth applies DOMAIN.md's thresholds at their edges."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from rapport_simulator.population import WorkingHours, build_population
from rapport_simulator.trajectory import ORS_CUTOFF_TENTHS, plan_client
from rapport_simulator.truth import GroundTruth, outside_hours

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday


def plans(seed: int) -> list:
    pop = build_population(seed=seed)
    return [plan_client(seed, c, pop.clinician(c.clinician_id)) for c in pop.clients]


def test_population_is_deterministic_and_uses_the_demo_ids() -> None:
    a, b = build_population(seed=7), build_population(seed=7)
    assert a == b
    assert [c.clinician_id for c in a.clinicians] == [f"clinician-{i:02d}" for i in range(1, 7)]
    assert a.supervisor_id == "supervisor-01"
    assert len({c.timezone for c in a.clinicians}) >= 4
    per_clinician = Counter(c.clinician_id for c in a.clients)
    assert all(15 <= n <= 30 for n in per_clinician.values())
    assert [c.client_id for c in a.clients][:2] == ["client-0001", "client-0002"]
    assert {c.age_band for c in a.clients} == {"adult", "adolescent", "child"}
    assert all((c.guardian_id is None) == (c.age_band == "adult") for c in a.clients)
    assert any(c.declined for c in a.clients) and any(c.revocation for c in a.clients)
    assert any(c.overrun_habit for c in a.clinicians) and any(c.after_hours_habit for c in a.clinicians)
    assert build_population(seed=8) != a


def test_trajectories_are_deterministic_for_a_seed() -> None:
    assert plans(7) == plans(7)
    assert plans(7) != plans(8)


def test_scores_are_valid_tenths_and_mostly_improving() -> None:
    all_plans = plans(7)
    kinds = Counter(p.kind for p in all_plans)
    assert kinds["improving"] > kinds["plateau"] > 0 and kinds["deteriorating"] > 0
    assert kinds["improving"] / len(all_plans) > 0.5
    for plan in all_plans:
        assert all(0 <= v <= 100 for v in plan.baseline_ors)
        for s in plan.sessions:
            assert all(0 <= v <= 100 for v in s.ors + s.srs)
            assert all(1 <= p.score <= 5 for p in s.pulses)
            assert all(0 <= t.camera_on_ratio <= 1 and 0 <= t.talk_ratio <= 1 for t in s.telemetry)
    # improving clients end (session 12) at least 5 points above baseline on average
    gains = [sum(p.sessions[11].ors) - p.baseline_total for p in all_plans if p.kind == "improving"]
    assert sum(gains) / len(gains) >= 50
    # alliance mostly high: median SRS >= 36
    srs = sorted(sum(s.srs) for p in all_plans for s in p.sessions if s.attendance == "attend")
    assert srs[len(srs) // 2] >= 360


def test_ruptures_show_in_the_planned_session() -> None:
    for plan in plans(7):
        if plan.rupture is None:
            continue
        s = plan.sessions[plan.rupture_at - 1]
        assert s.rupture == plan.rupture
        if plan.rupture == "confrontation":
            assert sum(s.srs) < 360 and min(p.score for p in s.pulses) <= 2
        elif plan.rupture == "withdrawal":
            late = s.telemetry[10:]
            assert sum(t.camera_on_ratio for t in late) / len(late) < 0.5
        else:
            nxt = plan.sessions[plan.rupture_at]
            assert s.attendance == nxt.attendance == "client-late-cancel"


def pair_truth() -> GroundTruth:
    truth = GroundTruth(seed=1, mode="accelerated", speed=100)
    hours = [WorkingHours(d, "09:00", "17:00") for d in range(5)]
    truth.clinician("clinician-01", timezone="Europe/London", hours=hours, habits=[])
    truth.client("client-0001", "clinician-01", "adult", {"kind": "deteriorating", "rupture": "confrontation"})
    truth.baseline("client-0001", 200)  # 20.0, below the adult cutoff 25
    return truth


def rules(truth: GroundTruth) -> set[str]:
    return {rule for rule, _ in truth.expectations}


def start(truth: GroundTruth, n: int) -> str:
    sid = f"s{n}"
    truth.started("client-0001", sid, T0 + timedelta(days=7 * n))
    return sid


def test_truth_srs_rules_at_their_thresholds() -> None:
    truth = pair_truth()
    truth.srs("client-0001", start(truth, 1), (90, 90, 90, 89), T0)  # 35.9 in session 1
    assert rules(truth) == {"early-low-alliance"}
    truth.srs("client-0001", start(truth, 2), (100, 100, 100, 94), T0)  # 39.4
    truth.srs("client-0001", start(truth, 3), (100, 100, 100, 64), T0)  # 36.4: drop exactly 3.0, item 6.4
    assert {"srs-drop", "srs-item-low"} <= rules(truth)
    truth.srs("client-0001", start(truth, 4), (90, 90, 90, 89), T0)  # 35.9 in session 4
    assert "srs-below-cutoff" in rules(truth)
    for n in (5, 6):
        truth.srs("client-0001", start(truth, n), (100, 100, 100, 100), T0)
    assert "srs-ceiling" not in rules(truth)
    truth.srs("client-0001", start(truth, 7), (100, 100, 100, 100), T0)
    assert "srs-ceiling" in rules(truth)
    exp = truth.expectations[("early-low-alliance", "client-0001")]
    assert exp.cause == "rupture:confrontation" and exp.session_ids == ["s1"]


def test_truth_ors_rules() -> None:
    truth = pair_truth()
    sid = start(truth, 1)
    truth.ors("client-0001", sid, (38, 38, 37, 37), T0)  # 15.0 = baseline - 5.0
    assert rules(truth) == {"ors-deterioration"}
    assert truth.expectations[("ors-deterioration", "client-0001")].cause == "deterioration"
    truth2 = pair_truth()
    for n in range(1, 4):
        truth2.ors("client-0001", start(truth2, n), (50, 50, 50, 49), T0)  # 19.9: not improving, too early
    assert rules(truth2) == set()
    truth2.ors("client-0001", start(truth2, 4), (62, 62, 62, 63), T0)  # 24.9 < 25.0
    assert rules(truth2) == {"ors-not-improving"}
    truth3 = pair_truth()
    for n in range(1, 5):
        truth3.ors("client-0001", start(truth3, n), (63, 63, 62, 62), T0)  # 25.0 = baseline + 5: improving
    assert rules(truth3) == set()
    assert ORS_CUTOFF_TENTHS["adult"] == 250


def test_truth_attendance_counts_only_client_withdrawals_in_scheduled_order() -> None:
    truth = pair_truth()
    truth.cancelled("client-0001", T0, by="client", late=True)
    truth.cancelled("client-0001", T0 + timedelta(days=7), by="clinician", late=True)  # skipped
    truth.cancelled("client-0001", T0 + timedelta(days=14), by="client", late=False)  # skipped
    assert rules(truth) == set()
    truth.no_show("client-0001", T0 + timedelta(days=21))
    assert rules(truth) == {"attendance-withdrawal"}


def test_truth_telemetry_needs_five_windows_in_the_lookback() -> None:
    truth = pair_truth()
    windows = [
        (T0 + timedelta(minutes=m), T0 + timedelta(minutes=m + 1), 0.05, 0.9, 10.0) for m in range(4)
    ]  # talk 0.05 < 0.1 but only four windows
    truth.telemetry("client-0001", "s1", windows)
    assert rules(truth) == set()
    windows.append((T0 + timedelta(minutes=4), T0 + timedelta(minutes=5), 0.05, 0.9, 10.0))
    truth.telemetry("client-0001", "s1", windows)
    assert rules(truth) == {"withdrawal-telemetry"}
    silent = pair_truth()
    silent.telemetry("client-0001", "s2", [(T0, T0 + timedelta(minutes=3), 0.4, 1.0, 120.0)])
    assert rules(silent) == {"withdrawal-telemetry"}


def test_truth_overruns() -> None:
    truth = pair_truth()
    end = T0 + timedelta(minutes=50)
    truth.ended("client-0001", "s1", scheduled_end=end, ended_at=end + timedelta(minutes=15))
    assert rules(truth) == {"live-overrun"}
    truth.ended("client-0001", "s2", scheduled_end=end, ended_at=end + timedelta(minutes=9, seconds=59))
    truth.ended("client-0001", "s3", scheduled_end=end, ended_at=end + timedelta(minutes=10))
    assert "overrun-pattern" not in rules(truth)
    truth.ended("client-0001", "s4", scheduled_end=end, ended_at=end + timedelta(minutes=12))
    assert "overrun-pattern" in rules(truth)


def test_truth_messages_off_hours_and_flags() -> None:
    truth = pair_truth()
    evening = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 19:00 London, Monday: outside 09-17
    assert outside_hours(evening, "Europe/London", truth.clinicians["clinician-01"]["hours"])
    assert not outside_hours(T0, "Europe/London", truth.clinicians["clinician-01"]["hours"])
    truth.message("client-0001", sender="client", sent_at=evening, flagged=True, scanned=False)
    assert rules(truth) == set()  # not scanned: nothing can be flagged
    for day in (0, 2):
        truth.message(
            "client-0001", sender="clinician", sent_at=evening + timedelta(days=day), flagged=False, scanned=True
        )
    truth.message("client-0001", sender="clinician", sent_at=T0, flagged=False, scanned=True)  # in hours
    assert rules(truth) == set()
    truth.message(
        "client-0001", sender="clinician", sent_at=evening + timedelta(days=6, hours=23), flagged=True, scanned=True
    )
    assert rules(truth) == {"off-hours-contact", "off-platform-contact"}


@pytest.mark.parametrize("seed", [3, 7])
def test_truth_json_is_reproducible(seed: int) -> None:
    def book() -> str:
        truth = GroundTruth(seed=seed, mode="accelerated", speed=1000)
        pop = build_population(seed=seed, clinicians=2, caseload=(3, 4))
        for c in pop.clients:
            plan = plan_client(seed, c, pop.clinician(c.clinician_id))
            truth.client(c.client_id, c.clinician_id, c.age_band, {"kind": plan.kind, "rupture": plan.rupture})
            truth.baseline(c.client_id, plan.baseline_total)
            for s in plan.sessions[:6]:
                if s.attendance != "attend":
                    truth.cancelled(c.client_id, T0 + timedelta(days=7 * s.index), by="client", late=True)
                    continue
                sid = f"{c.client_id}-{s.index}"
                truth.started(c.client_id, sid, T0 + timedelta(days=7 * s.index))
                truth.ors(c.client_id, sid, s.ors, T0)
                truth.srs(c.client_id, sid, s.srs, T0)
        return json.dumps(truth.as_json(), sort_keys=True)

    assert book() == book()


def test_the_report_lists_exactly_the_contract_rules() -> None:
    from rapport_common.events.alerts import RULE_IDS
    from rapport_simulator.truth import RULES

    assert sorted(RULES) == sorted(RULE_IDS) and len(RULES) == len(set(RULES))


def test_the_report_lists_exactly_the_monitors_declared_rules() -> None:
    from rapport_alliance_monitor.domain.rules import RULES as DECLARED
    from rapport_simulator.truth import RULES

    assert set(RULES) == set(DECLARED) and len(RULES) == len(DECLARED)


def _leaves(values: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in values.items():
        out |= _leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
    return out


def test_the_truth_applies_the_monitors_default_thresholds() -> None:
    """The truth is an independent oracle (the simulator never imports the monitor), so only its numbers are
    checked: each constant against the declared default it stands for, in the rules config's own units. A
    threshold added to a declaration fails here until the truth models it, or says why it does not."""
    from rapport_alliance_monitor.domain.config import RulesConfig
    from rapport_alliance_monitor.domain.rules.srs import CEILING_TENTHS
    from rapport_simulator import truth

    minute, day = timedelta(minutes=1), timedelta(days=1)
    mirrored = {
        "srs.cutoff": truth.SRS_CUTOFF / 10,
        "srs.item_low": truth.SRS_ITEM_LOW / 10,
        "srs.drop": truth.SRS_DROP / 10,
        "srs.early_sessions": truth.EARLY_SESSIONS,
        "srs.ceiling_run": truth.CEILING_RUN,
        "ors.reliable_change": truth.RELIABLE_CHANGE / 10,
        **{f"ors.cutoffs.{band}": tenths / 10 for band, tenths in ORS_CUTOFF_TENTHS.items()},
        "ors.not_improving_from_session": truth.NOT_IMPROVING_FROM,
        "pulse.low_max": truth.PULSE_LOW_MAX,
        "telemetry.lookback_minutes": truth.LOOKBACK / minute,
        "telemetry.min_windows": truth.MIN_WINDOWS,
        "telemetry.camera_on_below": truth.CAMERA_BELOW,
        "telemetry.talk_ratio_below": truth.TALK_BELOW,
        "telemetry.silence_s": truth.SILENCE_S,
        "overrun.live_minutes": truth.LIVE_OVERRUN / minute,
        "overrun.pattern_minutes": truth.PATTERN_OVERRUN / minute,
        "overrun.pattern_count": truth.PATTERN_COUNT,
        "overrun.pattern_last": truth.PATTERN_LAST,
        "off_hours.messages": truth.OFF_HOURS_MESSAGES,
        "off_hours.window_days": truth.OFF_HOURS_WINDOW / day,
    }
    # the consent hold is processing time: the truth books what happened, not when the monitor decided
    not_modelled = {"consent.hold_seconds"}
    defaults = _leaves(RulesConfig().model_dump(exclude={"rules"}))
    assert mirrored == {path: value for path, value in defaults.items() if path not in not_modelled}
    assert set(mirrored) | not_modelled == set(defaults)
    assert truth.CEILING == CEILING_TENTHS
