"""The workload the privacy checks, the fault tests and the soak drive: realistic pairs through the public APIs,
with free text that carries :data:`soak.world.MARKER` and planted inputs whose alerts the ground truth requires.

A "pair round" is what one client and their clinician do in a week: a live session with ORS, pulses, an
SRS with a comment, telemetry, messages both ways (one offering a phone number: flagged off-platform), end.
Planted inputs and the alerts they must raise (DOMAIN.md):
- a pulse of 1 -> ``pulse-low`` (per event), clinician;
- a flagged client message -> ``off-platform-contact`` (per event), compliance;
- an SRS total below 36 in the pair's session 1..3 -> ``early-low-alliance`` (per event), clinician.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from soak.api import ApiError, Rapport
from soak.world import MARKER, Pair, Team, live_session, onboard, telemetry_windows


@dataclass
class Expected:
    """Alerts the planted inputs require: (rule, client) -> how many distinct alerts."""

    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: free text written, and the client ids, that must never show up in logs, traces, metrics or DLQ headers
    secrets: set[str] = field(default_factory=set)


async def pair_round(api: Rapport, pair: Pair, expected: Expected, *, round_no: int, plant: bool = True) -> None:
    """One session of ``pair`` with feedback, telemetry and messages; plants alert inputs when ``plant``."""
    session_id = await live_session(api, pair)
    await api.ors(session_id, pair.client, 6.0)
    await api.pulse(session_id, pair.client, 1 if plant else 4)
    await api.telemetry(session_id, telemetry_windows(session_id, 3))
    text = f"{MARKER}msg round {round_no}: thanks for today, it helped with my sister"
    await api.message(pair.client, text, sender=("client", pair.client))
    await api.message(
        pair.client, f"{MARKER}reply round {round_no}: glad to hear", sender=("clinician", pair.clinician)
    )
    if plant:
        await api.message(pair.client, f"{MARKER}flag: text me on 555 301 9921", sender=("client", pair.client))
        expected.alerts[("pulse-low", pair.client)] += 1
        expected.alerts[("off-platform-contact", pair.client)] += 1
    comment = f"{MARKER}comment round {round_no}: I felt rushed at the end"
    each = 8.0 if plant else 9.5  # 32.0 < 36: early-low-alliance in the pair's first three sessions
    await api.srs(session_id, pair.client, each=each, comment=comment)
    if plant and round_no < 3:
        expected.alerts[("early-low-alliance", pair.client)] += 1
    await api.end(session_id, pair.clinician)
    expected.secrets |= {text, comment, pair.client}


async def run_pairs(
    api: Rapport, team: Team, pairs: int, rounds: int, expected: Expected, *, concurrency: int = 4
) -> list[Pair]:
    """Onboard ``pairs`` clients across the team and run ``rounds`` pair rounds each."""
    from soak.world import wait_known

    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> Pair:
        async with gate:
            pair = await onboard(api, team, team.clinicians[index % len(team.clinicians)])
            expected.secrets.add(pair.client)
            await wait_known(api, pair)
            for round_no in range(rounds):
                await pair_round(api, pair, expected, round_no=round_no)
            return pair

    return list(await asyncio.gather(*(one(i) for i in range(pairs))))


__all__ = ["ApiError", "Expected", "pair_round", "run_pairs"]
