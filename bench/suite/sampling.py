"""Samples over time: consumer lag from each service's ``/metrics`` and the RSS of every suite process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil


@dataclass
class Samples:
    t0: float = field(default_factory=time.monotonic)
    #: name -> [(seconds since t0, MiB)]
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    #: "service/group" -> [(seconds since t0, records behind)]
    lag: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    #: phase marks: (seconds since t0, label)
    marks: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, label: str) -> None:
        self.marks.append((time.monotonic() - self.t0, label))


def _tree_rss(proc: psutil.Process) -> float:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def parse_lag(text: str) -> dict[str, float]:
    """Sum of ``rapport_kafka_consumer_lag`` per (service, group) from a Prometheus text page."""
    out: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        if not line.startswith("rapport_kafka_consumer_lag{"):
            continue
        labels, _, value = line.rpartition(" ")
        parts = dict(
            item.split("=", 1) for item in labels[len("rapport_kafka_consumer_lag{") : -1].split(",") if "=" in item
        )
        key = f"{parts.get('service', '?').strip(chr(34))}/{parts.get('group', '?').strip(chr(34))}"
        out[key] += float(value)
    return out


async def sample_forever(run: dict[str, Any], samples: Samples, every_s: float = 1.0) -> None:
    procs: dict[str, psutil.Process] = {}
    for name, info in run.get("processes", {}).items():
        with contextlib.suppress(psutil.Error, KeyError):
            procs[name] = psutil.Process(info["pid"])
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            now = time.monotonic() - samples.t0
            for name, proc in procs.items():
                with contextlib.suppress(psutil.Error):
                    samples.rss[name].append((now, _tree_rss(proc)))
            for _service, url in run["services"].items():
                try:
                    page = await http.get(f"{url}/metrics")
                except httpx.HTTPError:
                    continue
                for key, value in parse_lag(page.text).items():
                    samples.lag[key].append((now, value))
            await asyncio.sleep(every_s)
