"""The long run: ``python soak/run.py --minutes 10`` (see soak/README.md).

Starts the real stack as processes (``soak.stack.Stack``: embedded PostgreSQL and broker, the four services,
two alliance-monitor instances), then for ``--minutes``:
- the simulator (``python -m rapport_simulator``) at ``--speed-multiplier`` (default 2) times its normal speed
  of 1000, i.e. twice its normal request rate: the realistic load;
- a checker load (``soak.workload.Load``) with planted alert inputs and a ledger of accepted writes, at
  ``--checker-rounds-per-s``: the exact ground truth.
Every ``--sample-s`` it samples each service's RSS, every consumer group's lag and the HTTP status counts
from every ``/metrics``. At the end it stops the load, waits until drained and checks: accepted writes in the
databases, outbox events on their topics once per id, planted alerts exactly once, lag zero. Verdict:
flat memory (RSS growth over the second half below ``--max-growth-mb``), no 5xx and no 429/503 without
Retry-After, lag bounded by ``--max-lag``. Results: ``<out>/soak-<time>.json`` and ``.md``. Exit 0 when
everything holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from soak.api import Rapport  # noqa: E402
from soak.checks import (  # noqa: E402
    accepted_missing,
    alert_census,
    checked_routes,
    compare_alerts,
    event_census,
    group_lag,
    wait_drained,
)
from soak.stack import SERVICES, Stack  # noqa: E402
from soak.workload import PLANTED_RULES, Expected, Load  # noqa: E402
from soak.world import MARKER, make_team  # noqa: E402

STATUS_LINE = re.compile(r"^rapport_http_requests_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python soak/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--speed-multiplier", type=float, default=2.0, help="simulator speed as a multiple of 1000")
    p.add_argument("--checker-rounds-per-s", type=float, default=1.0)
    p.add_argument("--checker-workers", type=int, default=2)
    p.add_argument("--sample-s", type=float, default=15.0)
    p.add_argument("--max-growth-mb", type=float, default=40.0, help="RSS growth allowed over the second half")
    p.add_argument("--max-lag", type=int, default=5000, help="records behind, any group, any sample")
    p.add_argument("--no-simulator", action="store_true", help="checker load only")
    p.add_argument("--out", type=Path, default=ROOT / "soak" / "results")
    p.add_argument("--keep", action="store_true", help="keep the stack's data directory and logs")
    return p.parse_args(argv)


def http_statuses(metrics_text: str) -> Counter[str]:
    """``"<service> <route> <status>"`` -> requests, from one ``/metrics`` text (health and metrics excluded)."""
    counts: Counter[str] = Counter()
    for line in metrics_text.splitlines():
        match = STATUS_LINE.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("route") in ("/healthz", "/readyz", "/metrics"):
            continue
        counts[f"{labels.get('service')} {labels.get('method')} {labels.get('route')} {labels.get('status')}"] += int(
            float(match["value"])
        )
    return counts


SIMULATED_CLIENT = re.compile(r"\bclient-\d{4}\b")


def log_leaks(stack: Stack, secrets: set[str]) -> dict[str, Any]:
    """Service stdout lines naming a client (the checker's or the simulator's) or carrying text a client wrote;
    httpx request lines (fixed: the consent client's URLs named clients) are counted apart as well."""
    httpx_lines, other = 0, []
    for name in stack.services:
        for line in stack.log_text(name).splitlines():
            if SIMULATED_CLIENT.search(line) or MARKER in line or any(secret in line for secret in secrets):
                if '"logger": "httpx"' in line:
                    httpx_lines += 1
                else:
                    other.append(f"{name}: {line[:200]}")
    return {"httpx_request_lines": httpx_lines, "other_lines": len(other), "examples": other[:5]}


def growth_mb(samples: list[dict[str, Any]], name: str) -> float | None:
    """RSS growth of ``name`` over the second half of the run: median of the last quarter minus median of the
    second quarter (start-up and population set-up excluded)."""
    values = [s["rss_mb"][name] for s in samples if name in s["rss_mb"]]
    if len(values) < 8:
        return None
    quarter = len(values) // 4

    def median(xs: list[float]) -> float:
        ordered = sorted(xs)
        return ordered[len(ordered) // 2]

    return median(values[-quarter:]) - median(values[quarter : 2 * quarter])


def start_simulator(stack: Stack, run_json: Path, multiplier: float, seconds: float) -> subprocess.Popen[bytes]:
    """``python -m rapport_simulator`` at ``multiplier`` x its default speed (1000), output to its own log."""
    argv = [
        sys.executable, "-m", "rapport_simulator", "--run-json", str(run_json), "--speed", str(1000 * multiplier),
        "--duration", str(seconds), "--truth-out", str(stack.root / "simulator-truth.json"),
    ]  # fmt: skip
    with open(stack.logs / "simulator.log", "ab") as log:
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )


async def soak(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"soak-{started_at:%Y%m%dT%H%M%SZ}"
    result: dict[str, Any] = {"started_at": started_at.isoformat(), "args": {k: str(v) for k, v in vars(args).items()}}
    stack = Stack(monitors=2, keep=args.keep)
    await stack.start()
    print(f"stack up in {stack.root} (logs in {stack.logs})", flush=True)
    sim: subprocess.Popen[bytes] | None = None
    api = Rapport(stack.urls, stack.secret, timeout_s=20.0)
    try:
        run_json = stack.root / "run.json"
        secret_file = stack.root / "jwt_secret"
        secret_file.write_text(stack.secret)
        run_json.write_text(
            json.dumps(
                {
                    "ready": True,
                    "services": stack.urls,
                    "jwt_secret_file": str(secret_file),
                    "kafka_bootstrap_servers": stack.kafka,
                    "processes": {},
                }
            )
        )
        expected = Expected()
        team = await make_team(api, 2)
        load = Load(api, team, expected, workers=args.checker_workers, rounds_per_s=args.checker_rounds_per_s)
        await load.prepare(args.checker_workers * 3)
        seconds = args.minutes * 60
        if not args.no_simulator:
            sim = start_simulator(stack, run_json, args.speed_multiplier, seconds)
        load.start()
        samples: list[dict[str, Any]] = []
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            await asyncio.sleep(min(args.sample_s, max(0.0, seconds - (time.monotonic() - began))))
            sample = {
                "t_s": round(time.monotonic() - began, 1),
                "rss_mb": {k: round(v, 1) for k, v in stack.rss_mb().items()},
                "lag": await group_lag(stack.kafka, exact=False),
                "checker_rounds": expected.rounds_done,
            }
            samples.append(sample)
            print(json.dumps(sample), flush=True)
        await load.stop()
        if sim is not None:
            try:
                sim.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(sim.pid, signal.SIGTERM)
                sim.wait(30)
        urls = {service: stack.database_url(service) for service in SERVICES}
        drained_s, lags, pending = await wait_drained(urls, stack.kafka, within_s=300)
        statuses: Counter[str] = Counter()
        for name in SERVICES:
            statuses.update(http_statuses(await api.metrics_text(name)))
        missing = await accepted_missing(urls, api.accepted)
        census = await event_census(urls, stack.kafka)
        alerts = await alert_census(urls["alliance-monitor"], PLANTED_RULES, [pair.client for pair in load.pairs])
        missing_alerts, extra_alerts = compare_alerts(expected.alerts, expected.uncertain, alerts)
        total_requests = sum(statuses.values())
        server_errors = {k: v for k, v in statuses.items() if k.rsplit(" ", 1)[1].startswith("5")}
        growth = {name: growth_mb(samples, name) for name in stack.services}
        leaks = log_leaks(stack, expected.secrets)
        max_lag = max((max(s["lag"].values()) for s in samples), default=0)
        result |= {
            "minutes": args.minutes,
            "simulator_exit": sim.returncode if sim is not None else None,
            "requests": total_requests,
            "requests_per_s": round(total_requests / seconds, 1),
            "statuses": dict(sorted(statuses.items())),
            "server_errors": server_errors,
            "back_pressure_without_retry_after": api.stats.back_pressure_without_retry_after,
            "checker": {
                "rounds_ok": expected.rounds_done,
                "rounds_failed": dict(expected.rounds_failed),
                "accepted_writes_checked": sum(checked_routes(api.accepted).values()),
                "missing_writes": missing[:20],
                "planted_alerts": sum(expected.alerts.values()),
                "missing_alerts": missing_alerts[:20],
                "duplicated_alerts": extra_alerts[:20],
            },
            "events": {
                "committed": census.committed,
                "records": census.records,
                "pending": census.pending,
                "not_on_topic": census.not_on_topic[:20],
                "duplicated_records": census.duplicated,
            },
            "drained_s": round(drained_s, 1),
            "final_lag": lags,
            "outbox_pending": pending,
            "max_lag_sampled": max_lag,
            "rss_growth_mb_second_half": growth,
            "log_lines_naming_clients": leaks,
            "samples": samples,
        }
        failures = []
        if server_errors:
            failures.append(f"server errors: {server_errors}")
        if api.stats.back_pressure_without_retry_after:
            failures.append("429/503 without Retry-After")
        if missing or census.not_on_topic or missing_alerts:
            failures.append("lost writes, events or alerts")
        if extra_alerts:
            failures.append("duplicated alerts")
        if any(lags.values()) or pending:
            failures.append(f"not drained: lag {lags}, outbox rows or consent holds pending {pending}")
        if max_lag > args.max_lag:
            failures.append(f"lag reached {max_lag} > {args.max_lag}")
        grew = {k: v for k, v in growth.items() if v is not None and v > args.max_growth_mb}
        if grew:
            failures.append(f"memory grew: {grew}")
        if leaks["other_lines"] or leaks["httpx_request_lines"]:
            failures.append(f"service log lines name a client or carry their words: {leaks}")
        if sim is not None and sim.returncode != 0:
            failures.append(f"simulator exited {sim.returncode}")
        result["failures"] = failures
        result["verdict"] = "pass" if not failures else "fail"
    finally:
        if sim is not None and sim.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sim.pid, signal.SIGKILL)
        await api.close()
        stack.stop()
        await asyncio.to_thread(Path(f"{stem}.json").write_text, json.dumps(result, indent=2, default=str))
        await asyncio.to_thread(Path(f"{stem}.md").write_text, report(result))
    print(report(result))
    print(f"results: {stem}.json, {stem}.md")
    return 0 if result.get("verdict") == "pass" else 1


def report(result: dict[str, Any]) -> str:
    """A short markdown summary of one run."""
    if "verdict" not in result:
        return f"# Soak {result['started_at']}: did not finish\n"
    checker = result["checker"]
    growth = ", ".join(
        f"{name} {value:+.1f} MB" if value is not None else f"{name} n/a"
        for name, value in result["rss_growth_mb_second_half"].items()
    )
    lines = [
        f"# Soak {result['started_at']}: {result['verdict']}",
        "",
        f"- {result['minutes']} min, simulator at {result['args']['speed_multiplier']}x speed "
        f"(exit {result['simulator_exit']}) plus the checker load",
        f"- {result['requests']} API requests ({result['requests_per_s']}/s), 5xx: {result['server_errors'] or 'none'}"
        f", 429/503 without Retry-After: {result['back_pressure_without_retry_after']}",
        f"- checker: {checker['rounds_ok']} rounds ok, failed {checker['rounds_failed'] or 'none'}, "
        f"{checker['accepted_writes_checked']} accepted writes checked, missing {len(checker['missing_writes'])}; "
        f"{checker['planted_alerts']} planted alerts, missing {len(checker['missing_alerts'])}, "
        f"duplicated {len(checker['duplicated_alerts'])}",
        f"- events: {result['events']['committed']} committed, {result['events']['records']} records, "
        f"not on topic {len(result['events']['not_on_topic'])}, duplicated records "
        f"{result['events']['duplicated_records'] or 'none'}",
        f"- lag: max sampled {result['max_lag_sampled']}, final {result['final_lag']}, drained in "
        f"{result['drained_s']} s after the load stopped",
        f"- RSS growth over the second half: {growth}",
        f"- service log lines naming a client: {result['log_lines_naming_clients']['other_lines']} "
        f"(httpx request lines among them: {result['log_lines_naming_clients']['httpx_request_lines']})",
        f"- failures: {result['failures'] or 'none'}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(soak(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
