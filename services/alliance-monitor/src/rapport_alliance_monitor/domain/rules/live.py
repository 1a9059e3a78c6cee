"""In-session alliance signals that reach the clinician's console while the session is still running."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from rapport_alliance_monitor.domain.rules.declaration import Finding, Rule, Verdict
from rapport_alliance_monitor.domain.rules.thresholds import Ratio, Thresholds
from rapport_alliance_monitor.domain.rules.wording import clock, percent
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.feedback import PulseSubmitted
from rapport_common.events.session import SessionTelemetry

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig

PULSE_LABELS = {"felt-heard": "feeling heard", "on-track": "the session being on track"}


class PulseThresholds(Thresholds):
    low_max: int = Field(2, ge=0, le=5, description="a pulse score at or below this: pulse-low")


def pulse_low(facts: Facts, event: PulseSubmitted, config: RulesConfig) -> Verdict:
    if event.data.score > config.pulse.low_max:
        return None
    return Finding(
        f"The client rated {PULSE_LABELS[event.data.question]} {event.data.score}/5 at "
        f"{clock(event.time, facts.clinician)}. Worth checking in?",
        (event.id,),
        event.data.session_id,
    )


PULSE_LOW = Rule(
    id="pulse-low",
    category="alliance",
    severity="medium",
    audience="clinician",
    kind="per-event",
    live=True,
    on=(PulseSubmitted,),
    thresholds=PulseThresholds,
    check=pulse_low,
    explains="The client's in-session check-in was {pulse.low_max} or lower on a 1–5 scale.",
)


class TelemetryThresholds(Thresholds):
    lookback_minutes: float = Field(
        10.0, gt=0.0, description="windows ending within (window_end - lookback, window_end]"
    )
    min_windows: int = Field(5, ge=1, description="means need at least this many windows")
    camera_on_below: Ratio = Field(0.5, description="mean camera-on ratio below this")
    talk_ratio_below: Ratio = Field(0.1, description="mean talk ratio below this")
    silence_s: float = Field(120.0, ge=0.0, description="any single window with a silence this long")


def withdrawal_telemetry(facts: Facts, event: SessionTelemetry, config: RulesConfig) -> Verdict:
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
        return None  # the window is older than the pair's lookback: stale, not live
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
    if not signs:
        return None
    return Finding(
        f"Over the last {rules.lookback_minutes:g} minutes {' and '.join(signs)}. Worth gently checking "
        "in with the client?",
        tuple(evidence),
        data.session_id,
    )


WITHDRAWAL_TELEMETRY = Rule(
    id="withdrawal-telemetry",
    category="alliance",
    severity="low",
    audience="clinician",
    kind="per-session",
    live=True,
    on=(SessionTelemetry,),
    thresholds=TelemetryThresholds,
    check=withdrawal_telemetry,
    explains="Video signals over the last minutes (camera, share of talk, silences) that can accompany withdrawal.",
)

RULES = (PULSE_LOW, WITHDRAWAL_TELEMETRY)
