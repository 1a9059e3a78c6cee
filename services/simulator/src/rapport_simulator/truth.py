"""Ground truth: which rule each simulated pair should have triggered, from what the simulator actually did.

The driver reports every accepted action with the times the services stamped on it (``started_at``,
``ended_at``, a message's ``sent_at``, telemetry window times); this book applies DOMAIN.md's default
thresholds to those facts, independently of the alliance-monitor's code, and keeps one *expectation* per
(rule, client) with the cause the simulator planted (``deterioration``, ``plateau``, ``rupture:<style>``,
``boundary:<kind>``, ``habit:<kind>``, or ``natural`` for ordinary noise such as a single low SRS item).
Pure (no I/O, no clock): the same calls give the same JSON. Feedback counts only under
``measurement-feedback``, telemetry under ``alliance-analytics`` and message flags under
``message-scanning`` (the simulator tells the book which consents were active).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rapport_simulator.population import WorkingHours
from rapport_simulator.trajectory import ORS_CUTOFF_TENTHS

#: DOMAIN.md's default thresholds, in tenths where the monitor compares tenths; a test checks each one against
#: the alliance-monitor's rule declarations (this package may not import the monitor: it is the oracle the
#: monitor is measured against)
SRS_CUTOFF = 360
SRS_ITEM_LOW = 80
SRS_DROP = 30
CEILING = 400
CEILING_RUN = 3
EARLY_SESSIONS = 3
RELIABLE_CHANGE = 50
NOT_IMPROVING_FROM = 4
PULSE_LOW_MAX = 2
LOOKBACK = timedelta(minutes=10)
MIN_WINDOWS = 5
CAMERA_BELOW = 0.5
TALK_BELOW = 0.1
SILENCE_S = 120.0
LIVE_OVERRUN = timedelta(minutes=15)
PATTERN_OVERRUN = timedelta(minutes=10)
PATTERN_COUNT, PATTERN_LAST = 3, 5
OFF_HOURS_MESSAGES = 3
OFF_HOURS_WINDOW = timedelta(days=7)

#: every rule id of the contract (``rapport_common.events.alerts.RULE_IDS``), in the order the precision/recall
#: report lists them (alliance, outcome, attendance, live, boundary, consent); tests keep it equal to the
#: contract's ids and to the alliance-monitor's declared rules
RULES = (
    "srs-below-cutoff",
    "early-low-alliance",
    "srs-item-low",
    "srs-drop",
    "srs-ceiling",
    "ors-deterioration",
    "ors-not-improving",
    "attendance-withdrawal",
    "pulse-low",
    "withdrawal-telemetry",
    "live-overrun",
    "overrun-pattern",
    "off-hours-contact",
    "off-platform-contact",
    "consent-violation",
)


@dataclass
class Expectation:
    rule: str
    client_id: str
    clinician_id: str
    cause: str
    first_at: str | None
    session_ids: list[str] = field(default_factory=list)
    count: int = 0  # triggering facts (SRS responses, pulses, sessions, messages)


@dataclass
class _Pair:
    client_id: str
    clinician_id: str
    age_band: str
    baseline: int | None = None
    started: int = 0
    srs_totals: list[int] = field(default_factory=list)
    outcomes: list[tuple[datetime, str]] = field(default_factory=list)  # (scheduled_start, outcome)
    overruns: list[bool] = field(default_factory=list)
    off_hours: list[datetime] = field(default_factory=list)
    session_number: dict[str, int] = field(default_factory=dict)


def outside_hours(at: datetime, timezone: str, hours: Sequence[WorkingHours]) -> bool:
    """True when ``at`` falls outside every ``[start, end)`` interval in the clinician's timezone."""
    local = at.astimezone(ZoneInfo(timezone))
    hhmm = local.strftime("%H:%M")
    return not any(h.weekday == local.weekday() and h.start <= hhmm < h.end for h in hours)


class GroundTruth:
    """Expectations per (rule, client), plus what was planted per client (kind, rupture, boundary)."""

    def __init__(self, *, seed: int, mode: str, speed: float) -> None:
        self.seed = seed
        self.mode = mode
        self.speed = speed
        self.expectations: dict[tuple[str, str], Expectation] = {}
        self.planted: dict[str, dict[str, Any]] = {}
        self.clinicians: dict[str, dict[str, Any]] = {}
        self._pairs: dict[str, _Pair] = {}
        self.counts: dict[str, int] = {}
        self.sim_start: datetime | None = None
        self.sim_end: datetime | None = None
        self.real_start: datetime | None = None
        self.real_end: datetime | None = None

    # -- population -------------------------------------------------------------------------------------
    def clinician(self, clinician_id: str, *, timezone: str, hours: Sequence[WorkingHours], habits: list[str]) -> None:
        self.clinicians[clinician_id] = {"timezone": timezone, "hours": list(hours), "habits": habits}

    def client(self, client_id: str, clinician_id: str, age_band: str, planted: dict[str, Any]) -> None:
        self._pairs[client_id] = _Pair(client_id, clinician_id, age_band)
        self.planted[client_id] = {"clinician_id": clinician_id, "age_band": age_band, **planted}

    def cause(self, client_id: str, rule: str) -> str:
        """Why the simulator expects ``rule`` for this client (what it planted), else ``natural``."""
        p = self.planted.get(client_id, {})
        if rule in ("ors-deterioration",) and p.get("kind") == "deteriorating":
            return "deterioration"
        if rule == "ors-not-improving" and p.get("kind") in ("plateau", "deteriorating"):
            return str(p["kind"])
        if rule in ("srs-below-cutoff", "early-low-alliance", "pulse-low", "withdrawal-telemetry", "srs-drop") and (
            p.get("rupture")
        ):
            return f"rupture:{p['rupture']}"
        if rule == "early-low-alliance" and p.get("alliance") == "low-start":
            return "low-start"
        if rule == "attendance-withdrawal" and p.get("rupture") == "missed":
            return "rupture:missed"
        if rule == "srs-ceiling" and p.get("alliance") == "ceiling":
            return "ceiling-rater"
        if rule == "off-platform-contact" and p.get("boundary"):
            return f"boundary:{p['boundary']}"
        habits = self.clinicians.get(p.get("clinician_id", ""), {}).get("habits", [])
        if rule in ("live-overrun", "overrun-pattern") and "overrun" in habits:
            return "habit:overrun"
        if rule == "off-hours-contact" and "after-hours" in habits:
            return "habit:after-hours"
        return "natural"

    def _expect(self, rule: str, client_id: str, at: datetime | None, session_id: str | None = None) -> None:
        pair = self._pairs[client_id]
        key = (rule, client_id)
        exp = self.expectations.get(key)
        if exp is None:
            exp = Expectation(
                rule, client_id, pair.clinician_id, self.cause(client_id, rule), at.isoformat() if at else None
            )
            self.expectations[key] = exp
        exp.count += 1
        if session_id and session_id not in exp.session_ids:
            exp.session_ids.append(session_id)

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    # -- facts ------------------------------------------------------------------------------------------
    def baseline(self, client_id: str, total: int) -> None:
        self._pairs[client_id].baseline = total

    def started(self, client_id: str, session_id: str, scheduled_start: datetime) -> None:
        pair = self._pairs[client_id]
        pair.started += 1
        pair.session_number[session_id] = pair.started
        pair.outcomes.append((scheduled_start, "started"))
        self._count("sessions_started")

    def cancelled(self, client_id: str, scheduled_start: datetime, *, by: str, late: bool) -> None:
        pair = self._pairs[client_id]
        outcome = "withdrawal" if by == "client" and late else "neutral"
        pair.outcomes.append((scheduled_start, outcome))
        self._count("sessions_cancelled")
        self._check_attendance(client_id, scheduled_start)

    def no_show(self, client_id: str, scheduled_start: datetime) -> None:
        self._pairs[client_id].outcomes.append((scheduled_start, "withdrawal"))
        self._count("no_shows")
        self._check_attendance(client_id, scheduled_start)

    def _check_attendance(self, client_id: str, at: datetime) -> None:
        relevant = [o for _, o in sorted(self._pairs[client_id].outcomes, key=lambda x: x[0]) if o != "neutral"]
        if len(relevant) >= 2 and relevant[-1] == relevant[-2] == "withdrawal":
            self._expect("attendance-withdrawal", client_id, at)

    def ors(self, client_id: str, session_id: str, items: Sequence[int], at: datetime) -> None:
        pair = self._pairs[client_id]
        self._count("ors")
        total = sum(items)
        if pair.baseline is None:
            return
        number = pair.session_number.get(session_id, pair.started)
        deteriorated = total <= pair.baseline - RELIABLE_CHANGE
        if deteriorated:
            self._expect("ors-deterioration", client_id, at, session_id)
        cutoff = ORS_CUTOFF_TENTHS[pair.age_band]
        if (
            number >= NOT_IMPROVING_FROM
            and pair.baseline < cutoff
            and total < pair.baseline + RELIABLE_CHANGE
            and not deteriorated
        ):
            self._expect("ors-not-improving", client_id, at, session_id)

    def srs(self, client_id: str, session_id: str, items: Sequence[int], at: datetime) -> None:
        pair = self._pairs[client_id]
        self._count("srs")
        total = sum(items)
        number = pair.session_number.get(session_id, pair.started)
        previous = pair.srs_totals[-1] if pair.srs_totals else None
        pair.srs_totals.append(total)
        if total < SRS_CUTOFF:
            rule = "early-low-alliance" if 1 <= number <= EARLY_SESSIONS else "srs-below-cutoff"
            self._expect(rule, client_id, at, session_id)
        else:
            if min(items) < SRS_ITEM_LOW:
                self._expect("srs-item-low", client_id, at, session_id)
            if previous is not None and previous - total >= SRS_DROP:
                self._expect("srs-drop", client_id, at, session_id)
        if len(pair.srs_totals) >= CEILING_RUN and all(t == CEILING for t in pair.srs_totals[-CEILING_RUN:]):
            self._expect("srs-ceiling", client_id, at, session_id)

    def pulse(self, client_id: str, session_id: str, score: int, at: datetime) -> None:
        self._count("pulses")
        if score <= PULSE_LOW_MAX:
            self._expect("pulse-low", client_id, at, session_id)

    def telemetry(
        self, client_id: str, session_id: str, windows: Sequence[tuple[datetime, datetime, float, float, float]]
    ) -> None:
        """All accepted windows of one session (start, end, talk, camera, silence), in any order."""
        ordered = sorted(windows, key=lambda w: w[1])
        self.counts["telemetry_windows"] = self.counts.get("telemetry_windows", 0) + len(ordered)
        for _, end, _, _, silence in ordered:
            recent = [w for w in ordered if end - LOOKBACK < w[1] <= end]
            means_fire = len(recent) >= MIN_WINDOWS and (
                sum(w[3] for w in recent) / len(recent) < CAMERA_BELOW
                or sum(w[2] for w in recent) / len(recent) < TALK_BELOW
            )
            if means_fire or silence >= SILENCE_S:
                self._expect("withdrawal-telemetry", client_id, end, session_id)
                return

    def ended(self, client_id: str, session_id: str, *, scheduled_end: datetime, ended_at: datetime) -> None:
        pair = self._pairs[client_id]
        self._count("sessions_ended")
        over = ended_at - scheduled_end
        if over >= LIVE_OVERRUN:
            self._expect("live-overrun", client_id, ended_at, session_id)
        pair.overruns.append(over >= PATTERN_OVERRUN)
        if sum(pair.overruns[-PATTERN_LAST:]) >= PATTERN_COUNT:
            self._expect("overrun-pattern", client_id, ended_at, session_id)

    def message(self, client_id: str, *, sender: str, sent_at: datetime, flagged: bool, scanned: bool) -> None:
        pair = self._pairs[client_id]
        self._count("messages")
        if flagged and scanned:
            self._expect("off-platform-contact", client_id, sent_at)
        if sender != "clinician":
            return
        info = self.clinicians[pair.clinician_id]
        if not outside_hours(sent_at, info["timezone"], info["hours"]):
            return
        pair.off_hours.append(sent_at)
        recent = [t for t in pair.off_hours if sent_at - OFF_HOURS_WINDOW < t <= sent_at]
        if len(recent) >= OFF_HOURS_MESSAGES:
            self._expect("off-hours-contact", client_id, sent_at)

    # -- output -----------------------------------------------------------------------------------------
    def sim_weeks(self) -> float:
        if self.sim_start is None or self.sim_end is None:
            return 0.0
        return max((self.sim_end - self.sim_start).total_seconds() / (7 * 86400), 0.0)

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "mode": self.mode,
            "speed": self.speed,
            "sim_start": self.sim_start.isoformat() if self.sim_start else None,
            "sim_end": self.sim_end.isoformat() if self.sim_end else None,
            "real_start": self.real_start.isoformat() if self.real_start else None,
            "real_end": self.real_end.isoformat() if self.real_end else None,
            "sim_weeks": round(self.sim_weeks(), 4),
            "clinicians": {
                cid: {"timezone": c["timezone"], "habits": c["habits"]} for cid, c in sorted(self.clinicians.items())
            },
            "planted": dict(sorted(self.planted.items())),
            "counts": dict(sorted(self.counts.items())),
            "expectations": [exp.__dict__ for _, exp in sorted(self.expectations.items(), key=lambda kv: kv[0])],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)
