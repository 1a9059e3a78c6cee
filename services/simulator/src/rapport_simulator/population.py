"""The simulated population: clinicians (demo ids ``clinician-01`` ...), one supervisor, clients per caseload.

Pure and seeded: ``build_population(seed=7)`` returns the same people every time. Only ids, age bands,
timezones, working hours, habits and consent choices are generated (no names for clients: the platform
stores none). The trajectory of each client is drawn separately (``trajectory``), from the same seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SUPERVISOR_ID = "supervisor-01"

#: clinicians spread over several IANA timezones (the off-hours rule works in the clinician's zone)
TIMEZONES = (
    "America/New_York",
    "Europe/London",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Chicago",
    "Asia/Tokyo",
)
CLIENT_TIMEZONES = (*TIMEZONES, "America/Denver", "Europe/Madrid", "Pacific/Auckland")
DISPLAY_NAMES = (
    "Dr. Ana Rivera",
    "Dr. Ben Okafor",
    "Dr. Chloe Martin",
    "Dr. Dev Patel",
    "Dr. Eva Lindqvist",
    "Dr. Femi Adeyemi",
    "Dr. Grace Kim",
    "Dr. Hugo Moreau",
)
#: share of clients per age band (adults dominate a telehealth caseload)
AGE_BANDS = (("adult", 0.7), ("adolescent", 0.18), ("child", 0.12))
#: scopes every client grants (treatment and feedback are needed to run sessions at all)
REQUIRED_SCOPES = ("telehealth-treatment", "measurement-feedback")
#: scopes a client may decline (DOMAIN.md: some decline analytics or scanning)
OPTIONAL_SCOPES = ("alliance-analytics", "message-scanning", "session-recording")
DECLINE_RATE = {"alliance-analytics": 0.1, "message-scanning": 0.1, "session-recording": 0.5}
#: share of clients who later revoke one optional scope they granted
REVOKE_RATE = 0.06


@dataclass(frozen=True)
class WorkingHours:
    weekday: int  # 0 = Monday
    start: str  # "HH:MM", [start, end) in the clinician's timezone
    end: str


@dataclass(frozen=True)
class Clinician:
    clinician_id: str
    display_name: str
    timezone: str
    working_hours: tuple[WorkingHours, ...]
    #: ends sessions 10+ minutes late more often than not (time boundary)
    overrun_habit: bool
    #: writes to clients outside working hours (time boundary, off-hours-contact)
    after_hours_habit: bool


@dataclass(frozen=True)
class Revocation:
    scope: str
    after_session: int  # revoked right after this (1-based) scheduled session


@dataclass(frozen=True)
class Client:
    client_id: str
    clinician_id: str
    age_band: str
    timezone: str
    #: the guardian who consents for a minor (None for adults)
    guardian_id: str | None
    declined: frozenset[str]
    revocation: Revocation | None


@dataclass(frozen=True)
class Population:
    seed: int
    supervisor_id: str
    clinicians: tuple[Clinician, ...]
    clients: tuple[Client, ...] = field(default=())

    def clinician(self, clinician_id: str) -> Clinician:
        return next(c for c in self.clinicians if c.clinician_id == clinician_id)


def _hours(rng: random.Random) -> tuple[WorkingHours, ...]:
    """Weekdays, a start between 08:00 and 10:00 and 7-9 hours of work; one clinician in three also works
    a Saturday morning."""
    start = rng.choice((8, 9, 10))
    length = rng.choice((7, 8, 9))
    end = min(start + length, 23)
    days = [WorkingHours(day, f"{start:02d}:00", f"{end:02d}:00") for day in range(5)]
    if rng.random() < 1 / 3:
        days.append(WorkingHours(5, "09:00", "13:00"))
    return tuple(days)


def build_clinicians(seed: int, count: int) -> tuple[Clinician, ...]:
    rng = random.Random(f"{seed}:clinicians")
    clinicians = []
    for index in range(1, count + 1):
        clinicians.append(
            Clinician(
                clinician_id=f"clinician-{index:02d}",
                display_name=DISPLAY_NAMES[(index - 1) % len(DISPLAY_NAMES)],
                timezone=TIMEZONES[(index - 1) % len(TIMEZONES)],
                working_hours=_hours(rng),
                overrun_habit=False,
                after_hours_habit=False,
            )
        )
    # habits: about one clinician in five each (at least one of each when there are 3+ clinicians)
    habits = max(1, round(count / 5)) if count >= 3 else 0
    order = list(range(count))
    rng.shuffle(order)
    overrun = set(order[:habits])
    after_hours = set(order[habits : 2 * habits])
    return tuple(
        Clinician(**{**c.__dict__, "overrun_habit": i in overrun, "after_hours_habit": i in after_hours})
        for i, c in enumerate(clinicians)
    )


def _age_band(rng: random.Random) -> str:
    roll = rng.random()
    for band, share in AGE_BANDS:
        if roll < share:
            return band
        roll -= share
    return AGE_BANDS[0][0]


def build_population(
    *, seed: int = 7, clinicians: int = 6, caseload: tuple[int, int] = (15, 30), client_prefix: str = "client"
) -> Population:
    """Clinicians ``clinician-01..NN`` all supervised by ``supervisor-01``, each with a caseload drawn from
    ``caseload`` (inclusive); clients ``client-0001`` ... numbered across the whole population."""
    if clinicians < 1 or clinicians > 99:
        raise ValueError("clinicians: between 1 and 99")
    low, high = caseload
    if low < 1 or high < low:
        raise ValueError("caseload: need 1 <= low <= high")
    team = build_clinicians(seed, clinicians)
    rng = random.Random(f"{seed}:clients")
    clients: list[Client] = []
    number = 0
    for clinician in team:
        for _ in range(rng.randint(low, high)):
            number += 1
            client_id = f"{client_prefix}-{number:04d}"
            band = _age_band(rng)
            declined = frozenset(s for s in OPTIONAL_SCOPES if rng.random() < DECLINE_RATE[s])
            revocable = [s for s in ("alliance-analytics", "message-scanning") if s not in declined]
            revocation = None
            if revocable and rng.random() < REVOKE_RATE:
                revocation = Revocation(scope=rng.choice(revocable), after_session=rng.randint(2, 5))
            clients.append(
                Client(
                    client_id=client_id,
                    clinician_id=clinician.clinician_id,
                    age_band=band,
                    timezone=rng.choice(CLIENT_TIMEZONES),
                    guardian_id=f"guardian-of-{client_id}" if band != "adult" else None,
                    declined=declined,
                    revocation=revocation,
                )
            )
    return Population(seed=seed, supervisor_id=SUPERVISOR_ID, clinicians=team, clients=tuple(clients))
