"""``python -m rapport_simulator.report --run-json .rapport/run.json --truth truth.json [--out report.md]``

Compares the alerts the alliance-monitor raised (``GET /alerts``, read as each clinician, the supervisor and
compliance: the audiences) with the simulator's ground truth, per rule, at the level of the pair (client):
precision = alerted pairs that the truth expects / alerted pairs, recall = expected pairs that got an alert /
expected pairs. Alert fatigue = alerts per clinician per simulated week. Markdown on stdout (and ``--out``).
Only alerts about the simulation's clients, raised since the simulation started, are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rapport_simulator.api import Api, RunInfo
from rapport_simulator.truth import RULES

COMPLIANCE = ("compliance-01", "compliance")
PAGE = 500


async def fetch_alerts(
    api: Api, truth: dict[str, Any], *, supervisor_id: str = "supervisor-01"
) -> list[dict[str, Any]]:
    """Every alert visible to the simulation's clinicians, its supervisor and compliance, since it started."""
    callers = [(cid, "clinician") for cid in truth["clinicians"]] + [(supervisor_id, "supervisor"), COMPLIANCE]
    since = truth.get("real_start")
    seen: dict[str, dict[str, Any]] = {}
    for caller in callers:
        until: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE}
            if since:
                params["since"] = since
            if until:
                params["until"] = until
            page = (await api.call("alliance-monitor", "GET", "/alerts", as_=caller, params=params))["alerts"]
            fresh = [a for a in page if a["alert_id"] not in seen]
            for alert in fresh:
                seen[alert["alert_id"]] = alert
            if len(page) < PAGE or not fresh:
                break
            until = min(a["raised_at"] for a in page)
    clients = set(truth["planted"])
    return [a for a in seen.values() if a["client_id"] in clients]


@dataclass
class RuleScore:
    rule: str
    expected: set[str]
    alerted: set[str]
    alerts: int
    causes: Counter[str]

    @property
    def hits(self) -> set[str]:
        return self.expected & self.alerted

    @property
    def precision(self) -> float | None:
        return len(self.hits) / len(self.alerted) if self.alerted else None

    @property
    def recall(self) -> float | None:
        return len(self.hits) / len(self.expected) if self.expected else None


def score(truth: dict[str, Any], alerts: list[dict[str, Any]]) -> list[RuleScore]:
    expected: dict[str, set[str]] = defaultdict(set)
    causes: dict[str, Counter[str]] = defaultdict(Counter)
    for exp in truth["expectations"]:
        expected[exp["rule"]].add(exp["client_id"])
        causes[exp["rule"]][exp["cause"]] += 1
    alerted: dict[str, set[str]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for alert in alerts:
        alerted[alert["rule"]].add(alert["client_id"])
        counts[alert["rule"]] += 1
    return [RuleScore(r, expected[r], alerted[r], counts[r], causes[r]) for r in RULES]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def render(truth: dict[str, Any], alerts: list[dict[str, Any]], scores: list[RuleScore]) -> str:
    weeks = float(truth.get("sim_weeks") or 0.0)
    clinicians = max(len(truth["clinicians"]), 1)
    start, end = truth.get("real_start"), truth.get("real_end")
    real_s = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() if start and end else 0
    lines = [
        "# Simulation vs alerts",
        "",
        f"Seed {truth['seed']}, {truth['mode']} (speed {truth['speed']:g}), {len(truth['planted'])} clients, "
        f"{clinicians} clinicians, {weeks:.2f} simulated weeks in {real_s:.0f} s.",
        f"Facts: {', '.join(f'{k} {v}' for k, v in sorted(truth['counts'].items()))}.",
        "",
        "Per rule, at the level of the pair (one client with their clinician): *expected* pairs are those whose",
        "simulated facts meet the rule (DOMAIN.md defaults), *alerted* pairs got at least one alert of the rule.",
        "",
        "| rule | expected pairs | alerted pairs | alerts | hits | precision | recall | causes planted |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in scores:
        cause = ", ".join(f"{c} {n}" for c, n in s.causes.most_common()) or "-"
        lines.append(
            f"| `{s.rule}` | {len(s.expected)} | {len(s.alerted)} | {s.alerts} | {len(s.hits)} | "
            f"{_pct(s.precision)} | {_pct(s.recall)} | {cause} |"
        )
    expected_all = sum(len(s.expected) for s in scores)
    alerted_all = sum(len(s.alerted) for s in scores)
    hits_all = sum(len(s.hits) for s in scores)
    lines += [
        f"| **all** | {expected_all} | {alerted_all} | {len(alerts)} | {hits_all} | "
        f"{_pct(hits_all / alerted_all if alerted_all else None)} | "
        f"{_pct(hits_all / expected_all if expected_all else None)} | |",
        "",
        "## Alert fatigue",
        "",
    ]
    by_audience = Counter(a["audience"] for a in alerts)
    if weeks > 0:
        per = len(alerts) / clinicians / weeks
        lines.append(f"- all alerts: {per:.1f} per clinician per simulated week ({len(alerts)} alerts)")
        for audience, n in sorted(by_audience.items()):
            lines.append(f"- audience `{audience}`: {n / clinicians / weeks:.1f} per clinician per week ({n})")
    else:
        lines.append("- no simulated time elapsed: no rate")
    live = [a for a in alerts if a.get("live")]
    lines += ["", f"Live alerts: {len(live)}."]
    misses = [(s.rule, sorted(s.expected - s.alerted)[:5]) for s in scores if s.expected - s.alerted]
    extras = [(s.rule, sorted(s.alerted - s.expected)[:5]) for s in scores if s.alerted - s.expected]
    if misses or extras:
        lines += ["", "## Differences (first five synthetic client ids each)", ""]
        lines += [f"- missed `{rule}`: {', '.join(ids)}" for rule, ids in misses]
        lines += [f"- unexpected `{rule}`: {', '.join(ids)}" for rule, ids in extras]
    return "\n".join(lines) + "\n"


async def build_report(run: RunInfo, truth: dict[str, Any], *, settle_s: float = 0.0) -> tuple[str, list[RuleScore]]:
    if settle_s:
        await asyncio.sleep(settle_s)
    api = Api(run)
    try:
        alerts = await fetch_alerts(api, truth)
    finally:
        await api.close()
    scores = score(truth, alerts)
    return render(truth, alerts, scores), scores


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rapport_simulator.report", description=__doc__.split("\n\n")[1])
    p.add_argument("--run-json", type=Path, required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--settle", type=float, default=0.0, help="seconds to wait first (let the monitor catch up)")
    args = p.parse_args(argv)
    markdown, _ = asyncio.run(
        build_report(RunInfo.load(args.run_json), json.loads(args.truth.read_text()), settle_s=args.settle)
    )
    sys.stdout.write(markdown)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
