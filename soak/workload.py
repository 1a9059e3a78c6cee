"""The workload the privacy checks, the fault tests and the soak drive: realistic pairs through the public APIs,
with free text that carries :data:`soak.world.MARKER` and planted inputs whose alerts the ground truth requires.

A "pair round" is what one client and their clinician do in a week: a live session with ORS, pulses, an
SRS with a comment, telemetry, messages both ways (one offering a phone number: flagged off-platform), end.
Planted inputs and the alerts they must raise (DOMAIN.md):
- a pulse of 1 -> ``pulse-low`` (per event), clinician;
- a flagged client message -> ``off-platform-contact`` (per event), compliance;
- an SRS total below 36 in the pair's session 1..3 -> ``early-low-alliance`` (per event), clinician.

Under faults a request can fail without an answer (timeout, reset, 5xx): whether it took effect is unknown,
so such planted inputs are counted as *uncertain* (the alert may or may not exist), and a pair whose session
count became uncertain gets no exact ``early-low-alliance`` expectation.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from soak.api import ApiError, Rapport
from soak.world import MARKER, Pair, Team, onboard, telemetry_windows, wait_known

T = TypeVar("T")
PLANTED_RULES = ("pulse-low", "off-platform-contact", "early-low-alliance")


@dataclass
class Expected:
    """Alerts the planted inputs require: (rule, client) -> how many distinct alerts."""

    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    uncertain: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: certain count of started sessions per client; None once a start's outcome is unknown
    started: dict[str, int | None] = field(default_factory=dict)
    #: free text written, and the client ids, that must never show up in logs, traces, metrics or DLQ headers
    secrets: set[str] = field(default_factory=set)
    #: rules whose planted inputs count as uncertain right now (a dependency they need is down and the
    #: service documents that it degrades; none at present: the session service's local consent view covers
    #: a consent-service outage)
    degraded: set[str] = field(default_factory=set)
    rounds_done: int = 0
    rounds_failed: Counter[str] = field(default_factory=Counter)


def unknown_outcome(exc: BaseException) -> bool:
    """True when the request may or may not have taken effect (no answer, or a server error)."""
    if isinstance(exc, ApiError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


async def planted(expected: Expected, rule: str, client: str, call: Awaitable[T]) -> T:
    degraded = rule in expected.degraded
    try:
        result = await call
    except Exception as exc:
        if unknown_outcome(exc):
            expected.uncertain[(rule, client)] += 1
        raise
    if degraded or rule in expected.degraded:
        expected.uncertain[(rule, client)] += 1
    else:
        expected.alerts[(rule, client)] += 1
    return result


async def pair_round(api: Rapport, pair: Pair, expected: Expected, *, plant: bool = True) -> None:
    """One session of ``pair`` with feedback, telemetry and messages; plants alert inputs when ``plant``."""
    session_id = await api.schedule(pair.client, pair.clinician)
    try:
        await api.start(session_id, pair.clinician)
    except Exception as exc:
        if unknown_outcome(exc):
            expected.started[pair.client] = None
        raise
    count = expected.started.get(pair.client, 0)
    number = None if count is None else count + 1
    expected.started[pair.client] = number
    await api.join(session_id, pair.client)
    await api.ors(session_id, pair.client, 6.0)
    if plant:
        await planted(expected, "pulse-low", pair.client, api.pulse(session_id, pair.client, 1))
    else:
        await api.pulse(session_id, pair.client, 4)
    await api.telemetry(session_id, telemetry_windows(session_id, 3))
    text = f"{MARKER}msg {number}: thanks for today, it helped with my sister"
    await api.message(pair.client, text, sender=("client", pair.client))
    await api.message(pair.client, f"{MARKER}reply {number}: glad to hear", sender=("clinician", pair.clinician))
    if plant:
        flagged = f"{MARKER}flag: text me on 555 301 9921"
        await planted(
            expected,
            "off-platform-contact",
            pair.client,
            api.message(pair.client, flagged, sender=("client", pair.client)),
        )
    comment = f"{MARKER}comment {number}: I felt rushed at the end"
    expected.secrets |= {text, comment, pair.client}
    low = plant and number is not None and number <= 3  # 32.0 < 36: early-low-alliance in sessions 1..3
    if low:
        srs = api.srs(session_id, pair.client, each=8.0, comment=comment)
        await planted(expected, "early-low-alliance", pair.client, srs)
    else:  # also when the session's number is unknown: no exact early-low-alliance expectation then
        await api.srs(session_id, pair.client, each=9.5, comment=comment)
    await api.end(session_id, pair.clinician)
    expected.rounds_done += 1


async def run_pairs(
    api: Rapport, team: Team, pairs: int, rounds: int, expected: Expected, *, concurrency: int = 4
) -> list[Pair]:
    """Onboard ``pairs`` clients across the team and run ``rounds`` pair rounds each (no faults: errors raise)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> Pair:
        async with gate:
            pair = await onboard(api, team, team.clinicians[index % len(team.clinicians)])
            expected.secrets.add(pair.client)
            await wait_known(api, pair)
            for _ in range(rounds):
                await pair_round(api, pair, expected)
            return pair

    return list(await asyncio.gather(*(one(i) for i in range(pairs))))


@dataclass
class Load:
    """Workers running pair rounds until stopped; each worker owns its pairs (sessions of one pair in order).

    ``rounds_per_s`` caps the total rate (None: as fast as the workers go). Failed rounds are counted by
    cause and the worker moves on; a worker whose pair got into an unknown state takes a fresh pair.
    """

    api: Rapport
    team: Team
    expected: Expected
    workers: int = 4
    rounds_per_s: float | None = None
    pairs: list[Pair] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def prepare(self, pairs: int) -> None:
        async def one(index: int) -> Pair:
            pair = await onboard(self.api, self.team, self.team.clinicians[index % len(self.team.clinicians)])
            await wait_known(self.api, pair)
            return pair

        gate = asyncio.Semaphore(6)

        async def gated(index: int) -> Pair:
            async with gate:
                return await one(index)

        self.pairs = list(await asyncio.gather(*(gated(i) for i in range(pairs))))
        for pair in self.pairs:
            self.expected.secrets.add(pair.client)

    def start(self) -> None:
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._work(i)) for i in range(self.workers)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self, index: int) -> None:
        mine = self.pairs[index :: self.workers]
        rng = random.Random(index)
        interval = self.workers / self.rounds_per_s if self.rounds_per_s else 0.0
        while not self._stop.is_set():
            pair = rng.choice(mine)
            began = time.monotonic()
            try:
                await pair_round(self.api, pair, self.expected)
                self.latencies.append(time.monotonic() - began)
            except Exception as exc:
                cause = f"{exc.response.status_code}" if isinstance(exc, ApiError) else type(exc).__name__
                self.expected.rounds_failed[cause] += 1
                await asyncio.sleep(0.2)  # a failing dependency: do not spin
            if interval:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), max(0.0, interval - (time.monotonic() - began)))


__all__ = ["PLANTED_RULES", "Expected", "Load", "pair_round", "run_pairs"]
