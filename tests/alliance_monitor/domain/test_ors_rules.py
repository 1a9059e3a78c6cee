"""ORS rules against the intake baseline: reliable change of exactly 5.0, cutoffs per age band."""

from __future__ import annotations

from datetime import timedelta

import pytest

WEEK = timedelta(days=7)


def ors_in_session(monitor, events, session: int, total: float, age_band: str = "adult"):
    """Starts sessions up to ``session`` (if needed) and returns the ORS of that session."""
    for n in range(1, session + 1):
        monitor.feed(events.started(f"s{n}", events.T0 + (n - 1) * WEEK))
    return events.ors(total, session_id=f"s{session}", at=events.T0 + (session - 1) * WEEK, age_band=age_band)


class TestOrsDeterioration:
    def test_exactly_five_below_baseline(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        event = ors_in_session(monitor, events, 2, 15.0)
        alert = monitor.feed(event).raised("ors-deterioration")
        assert (alert.severity, alert.audience, alert.category) == ("high", "clinician", "outcome")
        assert alert.evidence == (event.id,)
        assert "5.0 below their intake baseline of 20.0" in alert.summary

    def test_four_point_nine_below_baseline(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        assert monitor.feed(ors_in_session(monitor, events, 2, 15.1)) == []

    def test_update_then_resolve_when_less_than_five_below(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        opened = monitor.feed(ors_in_session(monitor, events, 2, 14.0)).raised("ors-deterioration")
        worse = ors_in_session(monitor, events, 3, 10.0)
        assert monitor.feed(worse).kinds() == [("Update", "ors-deterioration")]
        cleared = monitor.feed(ors_in_session(monitor, events, 4, 15.1))
        assert ("Resolve", "ors-deterioration") in cleared.kinds()
        assert cleared.of("ors-deterioration")[0].alert_id == opened.alert_id

    def test_no_baseline_no_judgement(self, monitor, events) -> None:
        assert monitor.feed(ors_in_session(monitor, events, 5, 3.0)) == []

    def test_baseline_from_an_ors_without_session(self, monitor, events) -> None:
        baseline = events.ors(20.0, session_id=None, at=events.T0 - timedelta(hours=2))
        assert monitor.feed(baseline) == []
        assert monitor.client().baseline.total_tenths == 200
        assert monitor.feed(ors_in_session(monitor, events, 2, 15.0)).kinds() == [("Raise", "ors-deterioration")]

    def test_the_latest_intake_baseline_wins(self, monitor, events) -> None:
        monitor.feed(events.intake(30.0, at=events.T0 - timedelta(days=5)))
        monitor.feed(events.intake(20.0, at=events.T0 - timedelta(days=60)))  # an older intake arriving late
        assert monitor.client().baseline.total_tenths == 300


class TestOrsNotImproving:
    def test_from_session_four_with_a_clinical_baseline(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        event = ors_in_session(monitor, events, 4, 24.9)
        alert = monitor.feed(event).raised("ors-not-improving")
        assert (alert.severity, alert.audience) == ("medium", "clinician")
        assert "By session 4" in alert.summary

    def test_not_in_session_three(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        assert monitor.feed(ors_in_session(monitor, events, 3, 20.0)) == []

    def test_reliable_improvement_is_not_flagged(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        assert monitor.feed(ors_in_session(monitor, events, 4, 25.0)) == []

    @pytest.mark.parametrize(("band", "cutoff"), [("adult", 25.0), ("adolescent", 28.0), ("child", 32.0)])
    def test_baseline_must_be_below_the_age_band_cutoff(self, make_monitor, events, band: str, cutoff: float) -> None:
        below = make_monitor()
        below.feed(events.intake(cutoff - 0.1, age_band=band))
        assert below.feed(ors_in_session(below, events, 4, cutoff, band)).kinds() == [("Raise", "ors-not-improving")]
        at = make_monitor()
        at.feed(events.intake(cutoff, age_band=band))
        assert at.feed(ors_in_session(at, events, 4, cutoff, band)) == []

    def test_deteriorated_is_not_also_not_improving(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        assert monitor.feed(ors_in_session(monitor, events, 4, 15.0)).kinds() == [("Raise", "ors-deterioration")]

    def test_update_then_resolve_on_reaching_baseline_plus_five(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        opened = monitor.feed(ors_in_session(monitor, events, 4, 21.0)).raised("ors-not-improving")
        assert monitor.feed(ors_in_session(monitor, events, 5, 22.0)).kinds() == [("Update", "ors-not-improving")]
        cleared = monitor.feed(ors_in_session(monitor, events, 6, 25.0))
        assert cleared.kinds() == [("Resolve", "ors-not-improving")]
        assert cleared[0].alert_id == opened.alert_id

    def test_a_late_older_ors_does_not_flip_the_condition(self, monitor, events) -> None:
        monitor.feed(events.intake(20.0))
        monitor.feed(ors_in_session(monitor, events, 5, 21.0))
        assert monitor.feed(ors_in_session(monitor, events, 4, 30.0)) == []
        assert monitor.pair().open_alert("ors-not-improving") is not None
