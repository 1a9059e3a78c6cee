"""The bench's markdown report and PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _f(x: float, digits: int = 0) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def _plot_series(
    series: dict[str, list[tuple[float, float]]], marks: list[tuple[float, str]], title: str, ylabel: str, path: Path
) -> None:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, points in sorted(series.items()):
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], label=name, linewidth=1.2)
    for t, label in marks:
        ax.axvline(t, color="grey", linestyle=":", linewidth=0.8)
        ax.text(t, ax.get_ylim()[1], f" {label}", rotation=90, va="top", fontsize=7, color="grey")
    ax.set_xlabel("seconds since the bench started")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if series:
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_latency(idle: Any, load: Any, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for result in (idle, load):
        data = sorted(result.samples_ms)
        if data:
            ax.plot(data, [(i + 1) / len(data) for i in range(len(data))], label=f"{result.label} (n={len(data)})")
    ax.set_xlabel("pulse POST -> alert on the SSE stream (ms)")
    ax.set_ylabel("cumulative share")
    ax.set_title("Live alert latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_rates(phases: list[Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [p.name for p in phases]
    ax.barh(names, [p.rate for p in phases])
    ax.set_xlabel("requests per second (2xx)")
    ax.set_title("HTTP rates, closed loop")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = ("lag", "rss", "latency", "rates")


def write_report(results: dict[str, Any], out: Path) -> Path:
    """``report.md`` (:func:`report_body` and the plots) and the plots' PNGs in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    samples = results["samples"]
    _plot_series(
        samples.lag,
        samples.marks,
        "Consumer lag (rapport_kafka_consumer_lag, summed per group)",
        "records behind",
        out / "lag.png",
    )
    _plot_series(samples.rss, samples.marks, "Resident memory per process (incl. children)", "MiB", out / "rss.png")
    _plot_latency(results["latency_idle"], results["latency_load"], out / "latency.png")
    _plot_rates(results["phases"] + results["mixed"], out / "rates.png")
    images = " ".join(f"![{name}]({name}.png)" for name in PLOTS)
    path = out / "report.md"
    path.write_text(report_body(results) + "\n" + images + "\n")
    return path


def report_body(results: dict[str, Any]) -> str:
    """The report's text without the plots (docs/performance.md takes this part)."""
    samples = results["samples"]
    phases = results["phases"] + results["mixed"]
    broker = results["broker"]
    sustained = results["sustained"]
    sustained_rate = sustained["accepted_events"] / sustained["seconds"]
    healthz = results["phases"][0]
    lines = [
        "# Rapport end-to-end benchmark",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average before "
        f"{results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f} (other work on the machine "
        "shares the CPUs: read every figure with the load in mind). Suite start (launcher to ready): "
        f"{_f(results['suite_start_s'], 1)} s. Bench population: {results['sessions']} running sessions, "
        f"set up in {results['prepare_s']:.1f} s.",
        "",
        "## Events: raw broker vs the suite through its APIs",
        "",
        "| measure | events/s |",
        "|---|---:|",
        f"| raw broker produce (aiokafka batches, {broker.records:,} x 400 B) | {_f(broker.produce_per_s)} |",
        f"| raw broker consume (getmany) | {_f(broker.consume_per_s)} |",
        f"| suite, sustained: events accepted by the APIs during the mixed load ({sustained['accepted_events']:,} in "
        f"{sustained['seconds']:.1f} s) | {_f(sustained_rate)} |",
        f"| suite: of those, on the topics by the end of the load / after drain "
        f"({sustained['on_topic_during']:,} / {sustained['on_topic_after_drain']:,}, "
        f"drain {sustained['drain_s']:.1f} s) | "
        f"{_f(sustained['on_topic_during'] / sustained['seconds'])} |",
        "",
        f"Ratio sustained / raw produce: {sustained_rate / broker.produce_per_s:.3f}.",
        "",
        "## HTTP rates (closed loop, each phase alone unless marked mixed)",
        "",
        "| endpoint | concurrency | req/s | events/s | p50 ms | p95 ms | p99 ms | 429/503 | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        lines.append(
            f"| {p.name} | {p.concurrency} | {_f(p.rate)} | {_f(p.unit_rate)} | {_f(p.pct(0.5), 1)} | "
            f"{_f(p.pct(0.95), 1)} | {_f(p.pct(0.99), 1)} | {p.backpressure} | {p.errors} |"
        )
    lines += [
        "",
        f"Baseline: `/healthz` {_f(healthz.rate)} req/s. The SRS phase ends early when every session has its SRS "
        "(one per session).",
        "",
        "## Live alert latency (pulse score 1 POSTed -> `pulse-low` on the clinician's SSE stream)",
        "",
        "| condition | probes | p50 ms | p95 ms | p99 ms | lost |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in (results["latency_idle"], results["latency_load"]):
        lines.append(
            f"| {r.label} | {len(r.samples_ms)} | {_f(r.pct(0.5))} | {_f(r.pct(0.95))} | {_f(r.pct(0.99))} | {r.lost} |"
        )
    lines += ["", "## Consumer lag and memory", ""]
    for key, points in sorted(samples.lag.items()):
        if points:
            lines.append(f"- lag `{key}`: max {_f(max(v for _, v in points))}, last {_f(points[-1][1])} records")
    for name, points in sorted(samples.rss.items()):
        if points:
            lines.append(
                f"- RSS `{name}`: first {points[0][1]:.0f} MiB, max {max(v for _, v in points):.0f} MiB, "
                f"last {points[-1][1]:.0f} MiB"
            )
    return "\n".join(lines) + "\n"
