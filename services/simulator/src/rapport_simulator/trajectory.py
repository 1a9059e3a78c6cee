"""The trajectory model: how each simulated client's scores, attendance and behaviour unfold, session by session.

Deterministic per (seed, client id): ``plan_client(seed, client, clinician)`` always returns the same plan.
All SRS/ORS values are integers in tenths of a point (the 10 cm line read to the millimetre), so the
ground truth compares exactly as the monitor does (``rapport_common.events.fields.tenths``).

Outcome (ORS, 0-40, taken at the start of each attended session)
- Baseline: in the clinical range for 80% of clients (age-band cutoff minus 2-10 points; cutoffs adult 25,
  adolescent 28, child 32), otherwise 1-5 points above it.
- Kind, drawn once per client: *improving* 65% (total = baseline + gain * (1 - exp(-n / tau)), gain 6-12,
  tau 2-5 sessions), *plateau* 20% (baseline + U(-1.5, 3.0)), *deteriorating* 15% (baseline -
  loss * (1 - exp(-n / tau)), loss 6-11). Session noise: normal, sd 1.0 point. Totals clamp to 0-40 and
  are split into the four items (each 0-10) with small item noise; the items sum exactly to the total.
- So improving clients usually pass baseline + 5 by session 4 (no ``ors-not-improving``), plateau clients
  in the clinical range trip ``ors-not-improving`` from session 4, deteriorating clients reach baseline - 5
  (``ors-deterioration``) within a few sessions.

Alliance (SRS, 0-40, at the end of each attended session)
- A pair level: 37.0-39.6 for most; 10% of clients are *ceiling raters* who always answer 40.0 (three in a
  row: ``srs-ceiling``); 8% start *low* (33.0-35.5) and climb 1 point per session (early-low-alliance).
- Noise sd 0.5; totals clamp to 0-40. About 6% of ordinary sessions mark one item down (7.0-7.9) while the
  total stays >= 36 (``srs-item-low``), the rest spread the total evenly over the items.
- Ruptures (25% of clients, at a session drawn from 2-8): *confrontation* (SRS falls by 6-12 points to
  below 36, one pulse of 1-2), *withdrawal* (camera mostly off and the client barely talks for most of
  the session, a pulse of 2, SRS down by 4-8) or *missed* (two late client cancellations in a row, then
  back). After a confrontation or withdrawal the alliance is repaired over the next two sessions (a
  partial recovery: the following SRS lies between the rupture value and the usual level).
- A late, small dip (2.9-3.0 points exactly is avoided: drops are 3.5-5.0) of a high alliance gives
  ``srs-drop`` for 5% of clients at one session.

In-session signals
- Telemetry every minute: talk ratio ~ N(0.45, 0.08), camera on ~ 0.9-1.0, longest silence 3-45 s; in a
  withdrawal session: camera 0.0-0.3 and talk 0.02-0.08 from minute 5 to the end, silences 50-59 s.
- Two pulses per attended session (minutes 15 and 35), score 4-5; 1-2 in a confrontation session, 2 in a
  withdrawal session.

Boundaries
- Off-platform contact: 8% of clients, at one session from 2-8, send (or receive) a message with a phone
  number, a payment request or a social-media invitation.
- Overrun habit (clinician): 60% of that clinician's sessions end 10-13 or 17-22 minutes late (clear of
  the 10 and 15 minute thresholds); others end within 0-4 minutes.
- After-hours habit (clinician): two extra clinician messages per client per week, sent outside the
  clinician's working hours.
- Routine messages: 0-2 from the client and 0-1 from the clinician between sessions.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from rapport_simulator.population import Client, Clinician

ORS_CUTOFF_TENTHS = {"adult": 250, "adolescent": 280, "child": 320}
SESSION_MINUTES = 50
PULSE_MINUTES = (15, 35)
MAX_SESSIONS = 24

MESSAGE_TEXTS = {
    "routine-client": (
        "Thanks for today, I tried the breathing exercise this morning.",
        "Could we talk about my sleep next time?",
        "I wrote down the three things we discussed.",
        "Running a bit low this week but I'll be there on time.",
    ),
    "routine-clinician": (
        "Thank you for your work today. The worksheet is in your resources tab.",
        "A reminder that our next session is in the app as usual.",
        "Good to hear the exercise helped. Keep the log going this week.",
    ),
    "off-platform-contact": ("It's easier if you just call me at 555-318-7702 from now on.",),
    "payment-request": ("For the extra sessions you can venmo me @sam-lee-22 instead of paying through the app.",),
    "social-media": ("follow me on instagram, it's easier to chat there",),
}
BOUNDARY_KINDS = ("off-platform-contact", "payment-request", "social-media")


@dataclass(frozen=True)
class TelemetryMinute:
    talk_ratio: float
    camera_on_ratio: float
    longest_silence_s: float


@dataclass(frozen=True)
class Pulse:
    minute: int
    question: str
    score: int


@dataclass(frozen=True)
class Message:
    sender: str  # client | clinician
    kind: str  # a key of MESSAGE_TEXTS, or "after-hours" (a routine clinician text sent off hours)
    text: str


@dataclass(frozen=True)
class SessionPlan:
    index: int  # 1-based scheduled session
    attendance: str  # attend | client-late-cancel | clinician-cancel
    ors: tuple[int, int, int, int]  # tenths: individual, interpersonal, social, overall
    srs: tuple[int, int, int, int]  # tenths: relationship, goals_topics, approach_method, overall
    pulses: tuple[Pulse, ...]
    telemetry: tuple[TelemetryMinute, ...]
    overrun_min: int
    messages_after: tuple[Message, ...]  # sent in the week after this session
    rupture: str | None  # confrontation | withdrawal | missed, on the session where it starts


@dataclass(frozen=True)
class ClientPlan:
    client_id: str
    kind: str  # improving | plateau | deteriorating
    baseline_ors: tuple[int, int, int, int]
    alliance: str  # high | ceiling | low-start
    rupture: str | None
    rupture_at: int | None
    boundary: str | None
    boundary_at: int | None
    sessions: tuple[SessionPlan, ...]

    @property
    def baseline_total(self) -> int:
        return sum(self.baseline_ors)


def _split(total: int, rng: random.Random, *, spread: int) -> tuple[int, int, int, int]:
    """Four items (tenths, each 0-100) summing exactly to ``total`` (0-400), close to total / 4."""
    total = max(0, min(400, total))
    items = [total // 4] * 4
    for i in range(total - sum(items)):
        items[i] += 1
    for _ in range(3):
        a, b = rng.sample(range(4), 2)
        move = rng.randint(0, spread)
        move = min(move, items[a], 100 - items[b])
        items[a] -= move
        items[b] += move
    return items[0], items[1], items[2], items[3]


def _srs_items(total: int, rng: random.Random, *, item_low: bool) -> tuple[int, int, int, int]:
    """SRS items; with ``item_low`` one item is 7.0-7.9 and the others carry the rest (total kept >= 36)."""
    if not item_low:
        return _split(total, rng, spread=min(4, 400 - total))
    low = rng.randint(70, 79)
    rest = max(total - low, 0)
    if rest > 300:  # the three others cannot exceed 10.0 each
        total = low + 300
        rest = 300
    items = [rest // 3] * 3
    for i in range(rest - sum(items)):
        items[i] += 1
    slot = rng.randrange(4)
    items.insert(slot, low)
    return items[0], items[1], items[2], items[3]


def _baseline(rng: random.Random, band: str) -> int:
    cutoff = ORS_CUTOFF_TENTHS[band]
    if rng.random() < 0.8:
        return cutoff - rng.randint(20, 100)
    return cutoff + rng.randint(10, 50)


def _ors_total(kind: str, baseline: int, n: int, params: tuple[float, float], rng: random.Random) -> int:
    size, tau = params
    if kind == "improving":
        mean = baseline + size * (1 - math.exp(-n / tau))
    elif kind == "deteriorating":
        mean = baseline - size * (1 - math.exp(-n / tau))
    else:
        mean = baseline + size
    return max(0, min(400, round(mean + rng.gauss(0, 10))))


def _telemetry(rng: random.Random, withdrawn: bool) -> tuple[TelemetryMinute, ...]:
    minutes = []
    for minute in range(SESSION_MINUTES):
        if withdrawn and minute >= 5:
            minutes.append(
                TelemetryMinute(
                    talk_ratio=round(rng.uniform(0.02, 0.08), 3),
                    camera_on_ratio=round(rng.uniform(0.0, 0.3), 3),
                    longest_silence_s=round(rng.uniform(50, 59), 1),
                )
            )
        else:
            minutes.append(
                TelemetryMinute(
                    talk_ratio=round(min(0.9, max(0.15, rng.gauss(0.45, 0.08))), 3),
                    camera_on_ratio=round(rng.uniform(0.9, 1.0), 3),
                    longest_silence_s=round(rng.uniform(3, 45), 1),
                )
            )
    return tuple(minutes)


def _messages(rng: random.Random, clinician: Clinician, boundary: str | None) -> tuple[Message, ...]:
    out = [
        Message("client", "routine-client", rng.choice(MESSAGE_TEXTS["routine-client"]))
        for _ in range(rng.randint(0, 2))
    ]
    if rng.random() < 0.5:
        out.append(Message("clinician", "routine-clinician", rng.choice(MESSAGE_TEXTS["routine-clinician"])))
    if clinician.after_hours_habit:
        out += [Message("clinician", "after-hours", rng.choice(MESSAGE_TEXTS["routine-clinician"])) for _ in range(2)]
    if boundary is not None:
        # off-platform moves come from either side; payment requests from the clinician
        sender = "clinician" if boundary == "payment-request" else rng.choice(("client", "clinician"))
        out.append(Message(sender, boundary, MESSAGE_TEXTS[boundary][0]))
    return tuple(out)


def plan_client(seed: int, client: Client, clinician: Clinician, *, sessions: int = MAX_SESSIONS) -> ClientPlan:
    """The whole course of one client, drawn from ``random.Random(f"{seed}:{client_id}")``."""
    rng = random.Random(f"{seed}:{client.client_id}")
    baseline_total = _baseline(rng, client.age_band)
    baseline = _split(baseline_total, rng, spread=15)
    roll = rng.random()
    kind = "improving" if roll < 0.65 else "plateau" if roll < 0.85 else "deteriorating"
    if kind == "improving":
        params = (rng.uniform(60, 120), rng.uniform(2, 5))
    elif kind == "deteriorating":
        params = (rng.uniform(60, 110), rng.uniform(2, 4))
    else:
        params = (rng.uniform(-15, 30), 1.0)
    roll = rng.random()
    alliance = "ceiling" if roll < 0.10 else "low-start" if roll < 0.18 else "high"
    level = rng.randint(370, 396)
    rupture = rng.choice(("confrontation", "withdrawal", "missed")) if rng.random() < 0.25 else None
    rupture_at = rng.randint(2, 8) if rupture else None
    boundary = rng.choice(BOUNDARY_KINDS) if rng.random() < 0.08 else None
    boundary_at = rng.randint(2, 8) if boundary else None
    dip_at = rng.randint(3, 10) if alliance == "high" and rng.random() < 0.05 else None

    plans: list[SessionPlan] = []
    attended = 0
    repair: list[int] = []  # SRS totals for the sessions after a rupture
    for index in range(1, sessions + 1):
        ruptured_here = rupture if rupture_at == index else None
        missed = rupture == "missed" and rupture_at is not None and index in (rupture_at, rupture_at + 1)
        if missed:
            attendance = "client-late-cancel"
        elif rng.random() < 0.03:
            attendance = "clinician-cancel"
        else:
            attendance = "attend"
        if attendance == "attend":
            attended += 1
        n = max(attended, 1)
        ors_total = _ors_total(kind, baseline_total, n, params, rng)
        ors = _split(ors_total, rng, spread=12)
        if alliance == "ceiling":
            srs_total = 400
        elif alliance == "low-start":
            srs_total = min(396, rng.randint(330, 355) + 10 * (n - 1))
        else:
            srs_total = max(0, min(400, level + round(rng.gauss(0, 5))))
        item_low = False
        if repair:
            srs_total = repair.pop(0)
        if ruptured_here == "confrontation":
            srs_total = min(level, 395) - rng.randint(60, 120)
            repair = [round((srs_total + level) / 2), level]
        elif ruptured_here == "withdrawal":
            srs_total = min(level, 395) - rng.randint(40, 80)
            repair = [round((srs_total + level) / 2), level]
        elif dip_at == index and not repair:
            srs_total = level - rng.randint(35, 50)
        elif alliance == "high" and srs_total >= 360 and rng.random() < 0.06:
            item_low = True
        srs = _srs_items(srs_total, rng, item_low=item_low)
        pulses = tuple(
            Pulse(m, "felt-heard" if m == PULSE_MINUTES[0] else "on-track", rng.randint(4, 5)) for m in PULSE_MINUTES
        )
        if ruptured_here == "confrontation":
            pulses = (Pulse(PULSE_MINUTES[0], "felt-heard", rng.randint(1, 2)), pulses[1])
        elif ruptured_here == "withdrawal":
            pulses = (pulses[0], Pulse(PULSE_MINUTES[1], "on-track", 2))
        if clinician.overrun_habit and rng.random() < 0.6:
            overrun = rng.choice((rng.randint(10, 13), rng.randint(17, 22)))
        else:
            overrun = rng.randint(0, 4)
        plans.append(
            SessionPlan(
                index=index,
                attendance=attendance,
                ors=ors,
                srs=srs,
                pulses=pulses,
                telemetry=_telemetry(rng, ruptured_here == "withdrawal"),
                overrun_min=overrun,
                messages_after=_messages(rng, clinician, boundary if boundary_at == index else None),
                rupture=ruptured_here,
            )
        )
    return ClientPlan(
        client_id=client.client_id,
        kind=kind,
        baseline_ors=baseline,
        alliance=alliance,
        rupture=rupture,
        rupture_at=rupture_at,
        boundary=boundary,
        boundary_at=boundary_at,
        sessions=tuple(plans),
    )
