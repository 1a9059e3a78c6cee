"""Rules that reach the clinician's console while the session is still running."""

from __future__ import annotations

import math
from datetime import timedelta

from rapport_alliance_monitor.domain.alerts import AlertDecision
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.rules.kinds import Finding, per_event, per_session
from rapport_alliance_monitor.domain.rules.wording import clock, percent
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.feedback import PulseSubmitted
from rapport_common.events.session import SessionOverrun, SessionTelemetry

PULSE_LABELS = {"felt-heard": "feeling heard", "on-track": "the session being on track"}


def pulse_low(facts: Facts, event: PulseSubmitted, config: RulesConfig) -> list[AlertDecision]:
    finding = None
    if event.data.score <= config.pulse.low_max:
        finding = Finding(
            f"The client rated {PULSE_LABELS[event.data.question]} {event.data.score}/5 at "
            f"{clock(event.time, facts.clinician)}. Worth checking in?",
            (event.id,),
            event.data.session_id,
        )
    return per_event("pulse-low", facts.pair, event, config, finding)


def withdrawal_telemetry(facts: Facts, event: SessionTelemetry, config: RulesConfig) -> list[AlertDecision]:
    """Over the session's windows ending within the lookback: low camera or talk share, or a long silence.

    The lookback is ``(window_end - lookback, window_end]`` of the window that just arrived, so ten
    one-minute windows make exactly ten minutes. ``min_windows`` applies to the means; one window with a
    long silence is enough on its own.
    """
    rules, data = config.telemetry, event.data
    horizon = data.window_end - timedelta(minutes=rules.lookback_minutes)
    windows = [
        w for w in facts.pair.telemetry if w.session_id == data.session_id and horizon < w.window_end <= data.window_end
    ]
    if not any(w.event_id == event.id for w in windows):
        return []  # the window is older than the pair's lookback: stale, not live
    signs: list[str] = []
    evidence: list[str] = []
    if len(windows) >= rules.min_windows:
        camera = math.fsum(w.camera_on_ratio for w in windows) / len(windows)
        talk = math.fsum(w.talk_ratio for w in windows) / len(windows)
        if camera < rules.camera_on_below:
            signs.append(f"the client's camera was on {percent(camera)} of the time")
        if talk < rules.talk_ratio_below:
            signs.append(f"the client spoke {percent(talk)} of the time")
        if signs:
            evidence = [w.event_id for w in windows]
    silent = [w for w in windows if w.longest_silence_s >= rules.silence_s]
    if silent:
        longest = max(w.longest_silence_s for w in silent)
        signs.append(f"there was a silence of {round(longest)} seconds")
        evidence.extend(w.event_id for w in silent if w.event_id not in evidence)
    finding = None
    if signs:
        finding = Finding(
            f"Over the last {rules.lookback_minutes:g} minutes {' and '.join(signs)}. Worth gently checking "
            "in with the client?",
            tuple(evidence),
            data.session_id,
        )
    return per_session("withdrawal-telemetry", facts.pair, event, config, finding)


def live_overrun(facts: Facts, event: SessionOverrun, config: RulesConfig) -> list[AlertDecision]:
    finding = None
    if event.data.minutes_over >= config.overrun.live_minutes:
        finding = Finding(
            f"This session is {event.data.minutes_over} minutes past its scheduled end. Worth planning "
            "together how to close?",
            (event.id,),
            event.data.session_id,
        )
    return per_session("live-overrun", facts.pair, event, config, finding)
