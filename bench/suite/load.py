"""HTTP load through the public APIs: a bench population with running sessions, then closed-loop load phases.

Each phase runs ``concurrency`` workers for ``seconds`` against one endpoint and counts 2xx answers (a 429/503
is back-pressure and counted apart). The population: one clinician (``bench-clinician``), ``clients``
clients with telehealth, feedback and analytics consent, and ``sessions`` running sessions per client.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from rapport_common.auth import issue_token

CLINICIAN = "bench-clinician"
SUPERVISOR = "bench-supervisor"
SCOPES = ("telehealth-treatment", "measurement-feedback", "alliance-analytics")


class Caller:
    """httpx clients per service with minted bearer tokens."""

    def __init__(self, run: dict[str, Any], secret: str, connections: int = 64) -> None:
        self.secret = secret
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = {
            name: httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) for name, url in run["services"].items()
        }
        self._tokens: dict[tuple[str, str], str] = {}

    def auth(self, subject: str, role: str) -> dict[str, str]:
        key = (subject, role)
        if key not in self._tokens:
            self._tokens[key] = issue_token(self.secret, subject=subject, role=role, ttl_s=7200)
        return {"authorization": f"Bearer {self._tokens[key]}"}

    async def post(
        self, service: str, path: str, body: Any, who: tuple[str, str], retry_for_s: float = 30
    ) -> httpx.Response:
        deadline = time.monotonic() + retry_for_s
        while True:
            try:
                r = await self.http[service].post(path, json=body, headers=self.auth(*who))
            except httpx.TransportError:  # a keep-alive connection closed under us: try again
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            if r.status_code in (429, 503) or (
                r.status_code in (403, 409) and time.monotonic() < deadline and _not_yet(r)
            ):
                await asyncio.sleep(float(r.headers.get("retry-after", "0.2") or 0.2))
                continue
            return r

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.http.values()))


def _not_yet(r: httpx.Response) -> bool:
    text = r.text
    return any(s in text for s in ("not registered yet", "no assigned clinician", "not assigned", "age band"))


@dataclass
class Population:
    clients: list[str]
    sessions: list[tuple[str, str]]  # (session_id, client_id), running


async def prepare(caller: Caller, *, tag: str, clients: int, sessions: int) -> Population:
    """Register, assign, consent and start ``clients * sessions`` sessions (status running)."""
    sup = (SUPERVISOR, "supervisor")
    clin = (CLINICIAN, "clinician")
    r = await caller.post(
        "intake",
        "/clinicians",
        {
            "clinician_id": CLINICIAN,
            "display_name": "Bench Clinician",
            "timezone": "UTC",
            "working_hours": [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)],
        },
        sup,
    )
    assert r.status_code in (201, 409), r.text
    ids = [f"{tag}-{i:04d}" for i in range(clients)]
    gate = asyncio.Semaphore(16)
    out: list[tuple[str, str]] = []

    async def one(cid: str) -> None:
        async with gate:
            r = await caller.post(
                "intake", "/clients", {"client_id": cid, "age_band": "adult", "timezone": "UTC"}, clin
            )
            assert r.status_code == 201, r.text
            r = await caller.post("intake", f"/clients/{cid}/assignments", {"clinician_id": CLINICIAN}, sup)
            assert r.status_code == 201, r.text
            for scope in SCOPES:
                r = await caller.post("consent", "/consents", {"client_id": cid, "scope": scope}, (cid, "client"))
                assert r.status_code == 201, r.text
            start = datetime.now(UTC) + timedelta(minutes=2)  # start is not tied to it
            for _ in range(sessions):
                r = await caller.post(
                    "session",
                    "/sessions",
                    {
                        "client_id": cid,
                        "scheduled_start": start.isoformat(),
                        "scheduled_end": (start + timedelta(hours=3)).isoformat(),
                    },
                    clin,
                )
                assert r.status_code == 201, r.text
                sid = r.json()["session_id"]
                r = await caller.post("session", f"/sessions/{sid}/start", None, clin)
                assert r.status_code == 200 or "running" in r.text, r.text
                out.append((sid, cid))

    await asyncio.gather(*(one(c) for c in ids))
    return Population(ids, out)


@dataclass
class PhaseResult:
    name: str
    seconds: float
    concurrency: int = 0
    ok: int = 0
    backpressure: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    units: int = 0  # e.g. telemetry windows (several per request)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def unit_rate(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]


Request = Callable[[int], Awaitable[tuple[httpx.Response | None, int]]]


async def closed_loop(name: str, request: Request, *, concurrency: int, seconds: float) -> PhaseResult:
    """``concurrency`` workers call ``request(n)`` (n: a global counter) back to back for ``seconds``."""
    counter = itertools.count()
    result = PhaseResult(name, seconds, concurrency)
    stop = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < stop:
            n = next(counter)
            t = time.perf_counter()
            try:
                response, units = await request(n)
            except httpx.HTTPError:
                result.errors += 1
                continue
            if response is None:  # nothing left to do (e.g. every session has its SRS)
                return
            elapsed = (time.perf_counter() - t) * 1000
            if response.status_code < 300:
                result.ok += 1
                result.units += units
                result.latencies_ms.append(elapsed)
            elif response.status_code in (429, 503):
                result.backpressure += 1
            else:
                result.errors += 1

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.monotonic() - began
    return result


T0 = datetime(2030, 1, 1, tzinfo=UTC)


def telemetry_request(caller: Caller, pop: Population, windows: int, *, epoch: int) -> Request:
    """Telemetry as the video client posts it; every window has a fresh start (no duplicates, also across
    phases: each phase passes its own ``epoch``). Counts the windows the service says it accepted."""
    who = ("video-client", "service")
    base = T0 + timedelta(days=365 * epoch)

    async def call(n: int) -> tuple[httpx.Response | None, int]:
        body = []
        for k in range(windows):
            sid, _ = pop.sessions[(n * windows + k) % len(pop.sessions)]
            start = base + timedelta(minutes=n * windows + k)
            body.append(
                {
                    "session_id": sid,
                    "window_start": start.isoformat(),
                    "window_end": (start + timedelta(minutes=1)).isoformat(),
                    "client_talk_ratio": 0.45,
                    "client_camera_on_ratio": 0.97,
                    "longest_silence_s": 12.0,
                }
            )
        r = await caller.http["session"].post("/telemetry", json={"windows": body}, headers=caller.auth(*who))
        return r, int(r.json().get("accepted", 0)) if r.status_code == 202 else 0

    return call


def pulse_request(caller: Caller, pop: Population) -> Request:
    async def call(n: int) -> tuple[httpx.Response | None, int]:
        sid, cid = pop.sessions[n % len(pop.sessions)]
        r = await caller.http["session"].post(
            f"/sessions/{sid}/feedback/pulse",
            json={"question": "felt-heard", "score": 5},
            headers=caller.auth(cid, "client"),
        )
        return r, 1

    return call


def srs_request(caller: Caller, pop: Population) -> Request:
    """One SRS per session (the API refuses a second): the phase ends when the sessions run out."""
    remaining = list(pop.sessions)

    async def call(n: int) -> tuple[httpx.Response | None, int]:
        if not remaining:
            return None, 0
        sid, cid = remaining.pop()
        items = {"relationship": 9.6, "goals_topics": 9.4, "approach_method": 9.5, "overall": 9.7}
        r = await caller.http["session"].post(
            f"/sessions/{sid}/feedback/srs", json={"items": items}, headers=caller.auth(cid, "client")
        )
        return r, 1

    return call


def healthz_request(caller: Caller, service: str = "session") -> Request:
    async def call(n: int) -> tuple[httpx.Response | None, int]:
        return await caller.http[service].get("/healthz"), 1

    return call
