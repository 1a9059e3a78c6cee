"""``GET /ops/summary`` (role operator): every service's ``/metrics`` and ``/readyz``, reduced to counts.

The console scrapes the services itself (the page refreshes every few seconds) so the embedded default
needs no Prometheus; a deployment with Prometheus and Grafana (``deploy/``) shows the same metrics there.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request

from rapport_common.auth import Principal, require_roles
from rapport_console.api.deps import SettingsDep, UpstreamDep
from rapport_console.ops.metrics_text import Sample, whitelisted_samples
from rapport_console.ops.summary import RateHistory, Snapshot, counter_totals, summarise

router = APIRouter(prefix="/ops", tags=["operators"])

Operator = Annotated[Principal, Depends(require_roles("operator"))]


async def probe(
    client: httpx.AsyncClient, name: str, base: str, timeout_s: float
) -> tuple[str, dict[str, Any], list[Sample]]:
    """One service's readiness and whitelisted metrics; an unreachable service counts as down, not an error."""
    state: dict[str, Any] = {"status": "down", "metrics": False}
    samples: list[Sample] = []
    try:
        ready, metrics = await asyncio.gather(
            client.get(f"{base}/readyz", timeout=timeout_s), client.get(f"{base}/metrics", timeout=timeout_s)
        )
    except httpx.HTTPError:
        return name, state, samples
    state["status"] = "ready" if ready.status_code == 200 else "not-ready"
    if metrics.status_code == 200:
        samples = whitelisted_samples(metrics.text)
        state["metrics"] = True
    return name, state, samples


@router.get("/summary")
async def ops_summary(_: Operator, request: Request, settings: SettingsDep, client: UpstreamDep) -> dict[str, Any]:
    results = await asyncio.gather(
        *(
            probe(client, name, base, settings.console_scrape_timeout_s)
            for name, base in settings.service_urls().items()
        )
    )
    samples = [sample for _, _, part in results for sample in part]
    history: RateHistory = request.app.state.ops_history
    now = time.monotonic()
    rates, span = history.rates(Snapshot(at=now, counters=counter_totals(samples)))
    summary = summarise(samples, rates, span, {name: state for name, state, _ in results})
    summary["scraped_at"] = time.time()
    return summary
