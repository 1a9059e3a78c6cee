"""The suite bench's report: its text (what docs/performance.md takes) and report.md, which adds the plots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.suite.broker import BrokerRate
from bench.suite.load import PhaseResult
from bench.suite.sampling import Samples
from bench.suite.writeup import PLOTS, report_body, write_report


@dataclass
class Latency:  # the shape of bench/suite/latency.py's LatencyResult
    label: str
    samples_ms: list[float] = field(default_factory=list)
    lost: int = 0

    def pct(self, q: float) -> float:
        data = sorted(self.samples_ms)
        return data[min(len(data) - 1, int(q * len(data)))]


def sample_results() -> dict[str, Any]:
    samples = Samples()
    samples.lag["alliance-monitor"] += [(0.0, 0.0), (5.0, 114.0), (9.0, 0.0)]
    samples.rss["intake"] += [(0.0, 80.0), (9.0, 83.0)]
    samples.marks.append((1.0, "healthz"))
    return {
        "samples": samples,
        "load_before": (0.5, 0.4, 0.3),
        "load_after": (2.5, 1.0, 0.5),
        "suite_start_s": 12.3,
        "sessions": 160,
        "prepare_s": 4.0,
        "broker": BrokerRate(records=60_000, produce_per_s=8741.0, consume_per_s=10801.0),
        "phases": [PhaseResult("healthz (session)", 6.0, concurrency=16, ok=354, latencies_ms=[10.0, 20.0])],
        "mixed": [PhaseResult("mixed: pulse", 25.0, concurrency=8, ok=500, units=500, latencies_ms=[30.0])],
        "latency_idle": Latency("idle", [80.0, 90.0, 200.0]),
        "latency_load": Latency("under load", [216.0, 5100.0], lost=1),
        "sustained": {
            "accepted_events": 2700,
            "seconds": 38.0,
            "on_topic_during": 2600,
            "on_topic_after_drain": 2700,
            "drain_s": 1.5,
        },
    }


def test_the_report_text_has_every_table_and_no_plots() -> None:
    body = report_body(sample_results())
    assert body.startswith("# Rapport end-to-end benchmark\n")
    assert "load average before 0.5, after 2.5" in body
    assert "| raw broker produce (aiokafka batches, 60,000 x 400 B) | 8,741 |" in body
    assert "| healthz (session) | 16 | 59 |" in body
    assert "| under load | 2 |" in body
    assert "- lag `alliance-monitor`: max 114, last 0 records" in body
    assert "![" not in body


def test_report_md_is_the_text_and_the_plots(tmp_path: Path) -> None:
    results = sample_results()
    path = write_report(results, tmp_path)
    text = path.read_text()
    assert text.startswith(report_body(results))
    for name in PLOTS:
        assert f"![{name}]({name}.png)" in text
        assert (tmp_path / f"{name}.png").stat().st_size > 0
