"""End-to-end benchmark of the embedded suite, each figure next to its baseline from the same run.

    .venv/bin/python bench/suite/run.py [--seconds 6] [--mixed-seconds 25] [--run-json path]   (./rapport bench)

Starts ``python -m rapport_local run`` in a subprocess (or uses a running suite with ``--run-json``), then:
1. raw broker produce/consume rate (aiokafka batches) -- baseline for the event rate through the APIs;
2. a bench population with running sessions (intake, consent, session APIs);
3. closed-loop HTTP phases: ``/healthz`` (baseline), telemetry (1 window/request), pulse, SRS;
4. live alert latency idle (baseline) and under a mixed load (telemetry in batches of 10 + pulses), and the
   suite's sustained event rate (growth of session.events + feedback.events during the mixed load);
5. all along: consumer lag from every ``/metrics`` and the RSS of every suite process (psutil).
Writes ``bench-results/suite/report.md`` and PNG plots beside it, and records the run for docs/performance.md
(``bench/performance_doc.py``); a tqdm bar shows the phases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from broker import end_offsets, raw_rate
from latency import AlertStream, probe
from launch import ROOT, Suite
from load import Caller, closed_loop, healthz_request, prepare, pulse_request, srs_request, telemetry_request
from sampling import Samples, sample_forever
from writeup import report_body, write_report

from bench.performance_doc import begin_run

PHASES = [
    "suite start",
    "broker baseline",
    "population",
    "healthz",
    "telemetry",
    "pulse",
    "srs",
    "latency idle",
    "mixed load",
    "drain",
]


async def bench(run: dict[str, Any], secret: str, args: argparse.Namespace, bar: tqdm) -> dict[str, Any]:
    samples = Samples()
    sampler = asyncio.create_task(sample_forever(run, samples))
    caller = Caller(run, secret)
    results: dict[str, Any] = {"samples": samples, "load_before": os.getloadavg()}
    try:
        samples.mark("broker")
        results["broker"] = await raw_rate(run["kafka_bootstrap_servers"], records=args.raw_records)
        bar.update()
        samples.mark("population")
        tag = f"b{uuid.uuid4().hex[:6]}"
        t = time.monotonic()
        pop = await prepare(caller, tag=tag, clients=args.clients, sessions=args.sessions)
        results["prepare_s"] = time.monotonic() - t
        results["sessions"] = len(pop.sessions)
        bar.update()
        phases = []
        for name, request in (
            ("healthz (session)", healthz_request(caller)),
            ("telemetry (1 window/request)", telemetry_request(caller, pop, 1, epoch=1)),
            ("pulse", pulse_request(caller, pop)),
            ("srs", srs_request(caller, pop)),
        ):
            samples.mark(name.split()[0])
            phases.append(await closed_loop(name, request, concurrency=args.concurrency, seconds=args.seconds))
            bar.update()
        results["phases"] = phases
        probe_sessions = await prepare(caller, tag=f"{tag}p", clients=4, sessions=1)
        async with AlertStream(caller) as stream:
            samples.mark("latency idle")
            results["latency_idle"] = await probe(
                stream, caller, probe_sessions, label="idle", count=args.probes, gap_s=0.3
            )
            bar.update()
            samples.mark("mixed load")
            topics = ["session.events", "feedback.events"]
            before = await end_offsets(run["kafka_bootstrap_servers"], topics)
            t = time.monotonic()
            mixed_tel = asyncio.create_task(
                closed_loop(
                    "mixed: telemetry (10 windows/request)",
                    telemetry_request(caller, pop, 10, epoch=2),
                    concurrency=args.concurrency,
                    seconds=args.mixed_seconds,
                )
            )
            mixed_pulse = asyncio.create_task(
                closed_loop(
                    "mixed: pulse",
                    pulse_request(caller, pop),
                    concurrency=max(2, args.concurrency // 2),
                    seconds=args.mixed_seconds,
                )
            )
            await asyncio.sleep(2)
            results["latency_load"] = await probe(
                stream, caller, probe_sessions, label="under load", count=args.probes, gap_s=0.3
            )
            results["mixed"] = [await mixed_tel, await mixed_pulse]
            mixed_s = time.monotonic() - t
            after = await end_offsets(run["kafka_bootstrap_servers"], topics)
            bar.update()
            samples.mark("drain")
            accepted = sum(r.units for r in results["mixed"])
            drain_began = time.monotonic()
            while time.monotonic() - drain_began < 30:
                now = await end_offsets(run["kafka_bootstrap_servers"], topics)
                if now - before >= accepted:
                    break
                await asyncio.sleep(0.5)
            drained = await end_offsets(run["kafka_bootstrap_servers"], topics)
            results["sustained"] = {
                "accepted_events": accepted,
                "seconds": mixed_s,
                "on_topic_during": after - before,
                "on_topic_after_drain": drained - before,
                "drain_s": time.monotonic() - drain_began,
            }
            await asyncio.sleep(3)
            bar.update()
    finally:
        results["load_after"] = os.getloadavg()
        sampler.cancel()
        await caller.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run-json", type=Path, default=None, help="use a running suite instead of starting one")
    p.add_argument("--seconds", type=float, default=6.0, help="length of each single-endpoint phase")
    p.add_argument("--mixed-seconds", type=float, default=25.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--sessions", type=int, default=8, help="running sessions per bench client")
    p.add_argument("--probes", type=int, default=30, help="latency probes per condition")
    p.add_argument("--raw-records", type=int, default=60_000)
    p.add_argument("--base-port", type=int, default=9700)
    p.add_argument("--out", type=Path, default=ROOT / "bench-results" / "suite")
    args = p.parse_args(argv)
    run_start = begin_run()
    bar = tqdm(total=len(PHASES), desc="rapport bench", unit="phase")
    suite = None
    try:
        if args.run_json is None:
            suite = Suite(duration_s=900, base_port=args.base_port)
            t = time.monotonic()
            run = suite.start()
            start_s = time.monotonic() - t
        else:
            run = json.loads(args.run_json.read_text())
            start_s = float("nan")
        bar.update()
        secret = Path(run["jwt_secret_file"]).read_text().strip()
        results = asyncio.run(bench(run, secret, args, bar))
        results["suite_start_s"] = start_s
    finally:
        if suite is not None:
            suite.stop()
        bar.close()
    report = write_report(results, args.out)
    broker = run.get("broker") or {}
    infra = " ".join(str(broker[key]) for key in ("kind", "version") if broker.get(key)) or "broker not named"
    infra += " (the running suite of --run-json)" if args.run_json else ", embedded PostgreSQL"
    plots = os.path.relpath(report.parent, ROOT)
    run_start.save(
        name="suite",
        title="Whole suite through its APIs",
        infra=infra,
        markdown=report_body(results) + f"\nPlots: `{plots}/*.png` (git-ignored).\n",
    )
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
