"""Live alert latency: a pulse of 1 POSTed -> its ``pulse-low`` alert on the clinician's SSE stream.

One probe at a time on dedicated running sessions: the clock starts when the POST is sent and stops when the
stream delivers an ``alert-raised`` for that session with rule ``pulse-low`` (the rule is per event, so
every probe raises a new alert). Probes that see no alert within ``timeout_s`` count as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

import httpx
from load import CLINICIAN, Caller, Population


@dataclass
class LatencyResult:
    label: str
    samples_ms: list[float] = field(default_factory=list)
    lost: int = 0

    def pct(self, q: float) -> float:
        if not self.samples_ms:
            return float("nan")
        data = sorted(self.samples_ms)
        return data[min(len(data) - 1, int(q * len(data)))]


class AlertStream:
    """The bench clinician's ``GET /alerts/stream``; waiters keyed by session id."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        client = self.caller.http["alliance-monitor"]
        headers = {**self.caller.auth(CLINICIAN, "clinician"), "accept": "text/event-stream"}
        async with client.stream("GET", "/alerts/stream", headers=headers, timeout=httpx.Timeout(None)) as response:
            response.raise_for_status()
            event = ""
            async for line in response.aiter_lines():
                if line.startswith(": connected") or line.startswith("retry:"):
                    self.connected.set()
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "alert-raised":
                    now = time.perf_counter()
                    alert = json.loads(line[5:])["alert"]
                    waiter = self.waiters.get(alert.get("session_id") or "")
                    if alert.get("rule") == "pulse-low" and waiter is not None and not waiter.done():
                        waiter.set_result(now)

    async def __aenter__(self) -> AlertStream:
        self.task = asyncio.create_task(self.run())
        await asyncio.wait_for(self.connected.wait(), timeout=15)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


async def probe(
    stream: AlertStream, caller: Caller, pop: Population, *, label: str, count: int, gap_s: float, timeout_s: float = 15
) -> LatencyResult:
    result = LatencyResult(label)
    loop = asyncio.get_running_loop()
    for n in range(count):
        sid, cid = pop.sessions[n % len(pop.sessions)]
        waiter: asyncio.Future[float] = loop.create_future()
        stream.waiters[sid] = waiter
        sent = time.perf_counter()
        r = await caller.http["session"].post(
            f"/sessions/{sid}/feedback/pulse",
            json={"question": "felt-heard", "score": 1},
            headers=caller.auth(cid, "client"),
        )
        if r.status_code != 201:
            result.lost += 1
            continue
        try:
            arrived = await asyncio.wait_for(waiter, timeout=timeout_s)
            result.samples_ms.append((arrived - sent) * 1000)
        except TimeoutError:
            result.lost += 1
        finally:
            stream.waiters.pop(sid, None)
        await asyncio.sleep(gap_s)
    return result
