"""End to end: a tiny seeded population driven through the real services (embedded suite) for ~40 s raises
at least one alert of a rule the simulator planted, and the report scores it against the ground truth."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from rapport_simulator.api import Api, RunInfo
from rapport_simulator.driver import Options, Simulation
from rapport_simulator.population import build_population
from rapport_simulator.report import fetch_alerts, render, score
from rapport_simulator.trajectory import plan_client

#: seed 3, one clinician with six clients: three clients start with a low alliance (SRS < 36 at session 1)
SEED = 3


async def test_planted_low_alliance_is_alerted_and_scored(suite_run_json: Path, tmp_path: Path) -> None:
    population = build_population(seed=SEED, clinicians=1, caseload=(6, 6), client_prefix="e2e")
    planted = [
        c.client_id
        for c in population.clients
        if plan_client(SEED, c, population.clinician(c.clinician_id)).alliance == "low-start"
    ]
    assert len(planted) >= 2  # the premise of this test (pure, deterministic)

    run = RunInfo.load(suite_run_json)
    api = Api(run)
    options = Options(seed=SEED, speed=20000, duration_s=40, clinicians=1, caseload=(6, 6), client_prefix="e2e")
    try:
        truth = await Simulation(api, population, options).run()
        truth_path = tmp_path / "truth.json"
        truth.write(truth_path)
        book = json.loads(truth_path.read_text())
        assert book["counts"]["sessions_started"] >= 6
        assert book["counts"]["srs"] >= 6 and book["counts"]["telemetry_windows"] > 100
        expected = {(e["rule"], e["client_id"]): e["cause"] for e in book["expectations"]}
        assert any(rule == "early-low-alliance" and cid in planted for rule, cid in expected)

        # the monitor consumes asynchronously: poll until a planted expectation has its alert
        deadline = time.monotonic() + 45
        while True:
            alerts = await fetch_alerts(api, book)
            scores = score(book, alerts)
            planted_hits = [(s.rule, cid) for s in scores for cid in s.hits if expected[(s.rule, cid)] != "natural"]
            if planted_hits or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
    finally:
        await api.close()

    report = render(book, alerts, scores)
    assert planted_hits, f"no planted rule was alerted; report:\n{report}"
    assert any(rule == "early-low-alliance" for rule, _ in planted_hits), report
    # the simulator only acts under consent: the monitor must find nothing to flag there
    assert not [a for a in alerts if a["rule"] == "consent-violation"], report
    assert "| `early-low-alliance` |" in report and "per clinician per simulated week" in report
