"""Live rules: pulse-low, withdrawal-telemetry and live-overrun reach the clinician during the session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rapport_alliance_monitor.domain import alert_id

MIN = timedelta(minutes=1)


class TestPulseLow:
    def test_score_two_raises_live(self, monitor, events) -> None:
        event = events.pulse(2, session_id="s1", at=events.T0 + 2 * MIN)
        alert = monitor.feed(event).raised("pulse-low")
        assert (alert.severity, alert.audience, alert.live) == ("medium", "clinician", True)
        assert alert.alert_id == alert_id("pulse-low", event.id)
        # 09:02 UTC is 10:02 on the clinician's Berlin clock
        assert alert.summary == "The client rated feeling heard 2/5 at 10:02. Worth checking in?"

    def test_score_three_is_fine(self, monitor, events) -> None:
        assert monitor.feed(events.pulse(3, session_id="s1", at=events.T0)) == []

    def test_each_low_pulse_is_its_own_alert(self, monitor, events) -> None:
        first = monitor.feed(events.pulse(1, session_id="s1", at=events.T0)).raised("pulse-low")
        second = monitor.feed(events.pulse(1, session_id="s1", at=events.T0 + MIN)).raised("pulse-low")
        assert first.alert_id != second.alert_id

    def test_time_in_utc_when_the_clinician_is_unknown(self, make_monitor, events) -> None:
        monitor = make_monitor()
        monitor.clinicians.clear()
        alert = monitor.feed(events.pulse(1, session_id="s1", at=events.T0, question="on-track")).raised("pulse-low")
        assert "the session being on track 1/5 at 09:00 UTC" in alert.summary


def windows(events, session_id: str, ends: list[int], **kw):
    """One-minute telemetry windows of ``session_id`` ending at T0 + each of ``ends`` minutes."""
    return [events.telemetry(session_id, events.T0 + n * MIN, **kw) for n in ends]


class TestWithdrawalTelemetry:
    def test_four_low_windows_are_not_enough_five_are(self, monitor, events) -> None:
        low = windows(events, "s1", [1, 2, 3, 4, 5], camera=0.0)
        assert monitor.feed(*low[:4]) == []
        alert = monitor.feed(low[4]).raised("withdrawal-telemetry")
        assert (alert.severity, alert.audience, alert.live, alert.session_id) == ("low", "clinician", True, "s1")
        assert alert.evidence == tuple(w.id for w in low)
        assert alert.alert_id == alert_id("withdrawal-telemetry", "s1")
        assert "camera was on 0% of the time" in alert.summary

    @pytest.mark.parametrize(("camera", "fires"), [(0.5, False), (0.48, True)])
    def test_mean_camera_on_strictly_below_half(self, monitor, events, camera: float, fires: bool) -> None:
        decisions = monitor.feed(*windows(events, "s1", [1, 2, 3, 4, 5], camera=camera))
        assert bool(decisions.of("withdrawal-telemetry")) is fires

    @pytest.mark.parametrize(("talk", "fires"), [(0.1, False), (0.09, True)])
    def test_mean_talk_ratio_strictly_below_a_tenth(self, monitor, events, talk: float, fires: bool) -> None:
        decisions = monitor.feed(*windows(events, "s1", [1, 2, 3, 4, 5], talk=talk))
        assert bool(decisions.of("withdrawal-telemetry")) is fires

    def test_mixed_windows_average_out(self, monitor, events) -> None:
        cameras = [0.0, 1.0, 0.0, 1.0, 0.5]  # mean exactly 0.5
        feed = [events.telemetry("s1", events.T0 + (n + 1) * MIN, camera=c) for n, c in enumerate(cameras)]
        assert monitor.feed(*feed) == []

    @pytest.mark.parametrize(("silence", "fires"), [(119.0, False), (120.0, True)])
    def test_a_single_long_silence(self, monitor, events, silence: float, fires: bool) -> None:
        event = events.telemetry("s1", events.T0 + 3 * MIN, minutes=3, silence=silence)
        decisions = monitor.feed(event)
        assert bool(decisions.of("withdrawal-telemetry")) is fires
        if fires:
            assert decisions.raised("withdrawal-telemetry").evidence == (event.id,)

    def test_lookback_is_exactly_ten_minutes(self, monitor, events) -> None:
        # w1..w4 end at T0+6..T0+9, then w0 (camera off) ending at T0 arrives, then w5 at T0+10.
        # At w5 the lookback (T0, T0+10] holds w1..w5 only: mean 0.5, not below; with w0 it would be 0.42.
        monitor.feed(*windows(events, "s1", [6, 7, 8, 9], camera=0.5))
        monitor.feed(events.telemetry("s1", events.T0, camera=0.0))
        assert monitor.feed(*windows(events, "s1", [10], camera=0.5)) == []

    def test_a_window_just_inside_the_lookback_counts(self, monitor, events) -> None:
        monitor.feed(*windows(events, "s1", [6, 7, 8, 9], camera=0.5))
        monitor.feed(events.telemetry("s1", events.T0 + timedelta(seconds=1), camera=0.0))
        assert monitor.feed(*windows(events, "s1", [10], camera=0.5)).kinds() == [("Raise", "withdrawal-telemetry")]

    def test_at_most_one_alert_per_session(self, monitor, events) -> None:
        assert monitor.feed(*windows(events, "s1", [1, 2, 3, 4, 5], camera=0.0)).kinds() == [
            ("Raise", "withdrawal-telemetry")
        ]
        assert monitor.feed(*windows(events, "s1", [6, 7, 8], camera=0.0, silence=60.0)) == []
        other = monitor.feed(*windows(events, "s2", [61, 62, 63, 64, 65], camera=0.0))
        assert other.raised("withdrawal-telemetry").session_id == "s2"

    def test_windows_of_another_session_do_not_mix(self, monitor, events) -> None:
        mixed = windows(events, "s1", [1, 2, 3], camera=0.0) + windows(events, "s2", [4, 5], camera=0.0)
        assert monitor.feed(*mixed) == []


class TestLiveOverrun:
    def test_fourteen_minutes_nothing_fifteen_raises_once(self, monitor, events) -> None:
        assert monitor.feed(events.overrun("s1", 14)) == []
        alert = monitor.feed(events.overrun("s1", 15)).raised("live-overrun")
        assert (alert.severity, alert.audience, alert.category, alert.live) == ("info", "clinician", "boundary", True)
        assert alert.alert_id == alert_id("live-overrun", "s1")
        assert monitor.feed(events.overrun("s1", 16), events.overrun("s1", 30)) == []

    def test_another_session_raises_again(self, monitor, events) -> None:
        monitor.feed(events.overrun("s1", 15))
        assert monitor.feed(events.overrun("s2", 20)).raised("live-overrun").session_id == "s2"
