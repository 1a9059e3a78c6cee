"""Simulated time mapped onto real time: ``real = real_start + (sim - sim_start) / speed``.

The simulated calendar starts at the real start, so simulated dates are current ones. ``speed`` 1 is real
time (the live demo). A stop event ends every wait early, so the run can wind down cleanly.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, speed: float, *, real_start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.real_start = real_start or datetime.now(UTC)
        self.sim_start = self.real_start
        self.stopped = asyncio.Event()

    def restart(self, real_start: datetime) -> None:
        """Start the simulated calendar (again) at ``real_start``, e.g. once onboarding is done."""
        self.real_start = real_start
        self.sim_start = real_start

    def real(self, sim: datetime) -> datetime:
        return self.real_start + (sim - self.sim_start) / self.speed

    def sim(self, real: datetime) -> datetime:
        return self.sim_start + (real - self.real_start) * self.speed

    def sim_now(self) -> datetime:
        return self.sim(datetime.now(UTC))

    def real_seconds(self, sim: timedelta) -> float:
        return sim.total_seconds() / self.speed

    async def sleep_until(self, sim: datetime) -> bool:
        """Wait until simulated time ``sim``; False when the run was stopped first."""
        delay = (self.real(sim) - datetime.now(UTC)).total_seconds()
        return await self.sleep_real(delay)

    async def sleep_real(self, seconds: float) -> bool:
        if self.stopped.is_set():
            return False
        if seconds <= 0:
            await asyncio.sleep(0)
            return True
        try:
            await asyncio.wait_for(self.stopped.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False
