"""Building blocks of a workload: onboard a clinician/client pair through the real APIs and wait until every
service that needs the pair (session, consent, alliance-monitor learn it from ``intake.events``) knows it.

Free text written here carries recognisable markers (``MARKER`` + a per-item suffix) so the privacy checks
can look for them in logs, traces, metrics and dead-letter headers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from soak.api import ApiError, Rapport

#: every free-text value the workload writes contains this (and nothing else in the suite does)
MARKER = "ZQXMARK"
SCOPES = ("telehealth-treatment", "session-recording", "measurement-feedback", "alliance-analytics", "message-scanning")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def off_hours_now() -> list[dict[str, object]]:
    """Working hours that exclude the present moment (a one-hour slot three days from now, UTC)."""
    weekday = (datetime.now(UTC).weekday() + 3) % 7
    return [{"weekday": weekday, "start": "09:00", "end": "10:00"}]


def all_week() -> list[dict[str, object]]:
    """Working hours covering every minute of the week (messages are never off-hours)."""
    return [{"weekday": day, "start": "00:00", "end": "23:59"} for day in range(7)]


@dataclass(frozen=True)
class Team:
    supervisor: str
    clinicians: tuple[str, ...]


@dataclass(frozen=True)
class Pair:
    client: str
    clinician: str
    supervisor: str


async def make_team(api: Rapport, clinicians: int, *, off_hours: bool = False, prefix: str = "clin") -> Team:
    supervisor = new_id("sup")
    ids = tuple(new_id(prefix) for _ in range(clinicians))
    hours = off_hours_now() if off_hours else all_week()
    for index, clinician in enumerate(ids):
        await api.register_clinician(
            clinician, supervisor_id=supervisor, working_hours=hours, name=f"Dr {MARKER}name{index} Example"
        )
    return Team(supervisor, ids)


async def onboard(
    api: Rapport, team: Team, clinician: str, *, intake: bool = True, consents: tuple[str, ...] = SCOPES
) -> Pair:
    """Register, assign, consent and (optionally) complete the intake of one new client."""
    client = new_id("client")
    await api.register_client(client, clinician_id=clinician)
    await api.assign(client, clinician, supervisor_id=team.supervisor)
    for scope in consents:
        await grant_when_known(api, client, scope)
    if intake:
        await api.complete_intake(
            client,
            goals=[f"{MARKER}goal sleep through the night {client[-4:]}"],
            concerns=[f"{MARKER}concern low mood {client[-4:]}"],
        )
    return Pair(client, clinician, team.supervisor)


async def grant_when_known(api: Rapport, client: str, scope: str, *, within_s: float = 30.0) -> str:
    """Grant ``scope`` as the client; the consent service answers 409 "retry later" until it has seen the
    client's registration on ``intake.events``, so retry that (and only that) for a while."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await api.grant(client, scope)
        except ApiError as exc:
            retry_later = exc.response.status_code == 409 and "retry later" in exc.response.text
            if not retry_later or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


async def wait_known(api: Rapport, pair: Pair, *, within_s: float = 30.0, monitor: bool = True) -> float:
    """Seconds until session, consent (and the monitor) accept the clinician of record for the client."""
    started = time.monotonic()
    pending = {"session", "consent"} | ({"alliance-monitor"} if monitor else set())
    as_clinician = api.auth("clinician", pair.clinician)
    probes = {
        "session": ("GET", "/messages", {"client_id": pair.client}),
        "consent": ("GET", f"/clients/{pair.client}/consents", None),
        "alliance-monitor": ("GET", f"/clients/{pair.client}/trend", None),
    }
    while pending:
        for service in list(pending):
            method, path, params = probes[service]
            response = await api.client(service).request(method, path, params=params, headers=as_clinician)
            if response.status_code == 200:
                pending.discard(service)
        if not pending:
            break
        if time.monotonic() - started > within_s:
            raise TimeoutError(f"{sorted(pending)} did not learn {pair} within {within_s}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def live_session(api: Rapport, pair: Pair) -> str:
    """A session scheduled for later, started now, with the client in the room."""
    session_id = await api.schedule(pair.client, pair.clinician)
    await api.start(session_id, pair.clinician)
    await api.join(session_id, pair.client)
    return session_id


async def wait_for_alert(
    api: Rapport, role: str, subject: str, *, rule: str, client_id: str, within_s: float = 30.0, count: int = 1
) -> list[dict[str, object]]:
    """The caller's alerts of ``rule`` for ``client_id`` once at least ``count`` exist."""
    deadline = time.monotonic() + within_s
    while True:
        found = await api.alerts_for(role, subject, client_id=client_id, rule=rule)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} {rule} alert(s) for {client_id} not visible to {role} within {within_s}s")
        await asyncio.sleep(0.2)


def telemetry_windows(
    session_id: str, count: int, *, camera: float = 0.9, talk: float = 0.4
) -> list[dict[str, object]]:
    """``count`` consecutive one-minute windows ending now."""
    end = datetime.now(UTC)
    windows = []
    for index in range(count, 0, -1):
        window_end = end - timedelta(minutes=index - 1)
        windows.append(
            {
                "session_id": session_id,
                "window_start": (window_end - timedelta(minutes=1)).isoformat(),
                "window_end": window_end.isoformat(),
                "client_talk_ratio": talk,
                "client_camera_on_ratio": camera,
                "longest_silence_s": 5.0,
            }
        )
    return windows


__all__ = ["MARKER", "SCOPES", "ApiError", "Pair", "Team", "make_team", "new_id", "onboard", "wait_known"]
