"""Broker start time: Tansu, Apache Kafka with one KRaft node, and with three, each started ``--runs`` times.

    .venv/bin/python bench/broker/start_time.py [--runs 3] [--kinds tansu,kafka-1,kafka-3]

For Apache Kafka, "format" is ``kafka.tools.StorageTool format`` (a JVM per node, in parallel) and "ready"
the time from spawning the nodes to every node being listed in the cluster's metadata; both come from a fresh
data directory (the jars are already cached: the first fetch from Maven Central is not part of a start).
Prints a markdown table of medians, writes ``bench-results/broker_start.md`` and records the run for
docs/performance.md (``bench/performance_doc.py``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rapport_local.broker import EmbeddedBroker
from rapport_local.kafka import KafkaCluster
from rapport_local.kafka_jars import resolve

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.performance_doc import ROOT, begin_run


def start_once(kind: str) -> tuple[float, float | None, float | None]:
    """(wall seconds until ready, format seconds, spawn-to-ready seconds) for one fresh start."""
    tmp = Path(tempfile.mkdtemp(prefix=f"rapport-broker-start-{kind}-"))
    broker: EmbeddedBroker | KafkaCluster
    if kind == "tansu":
        broker = EmbeddedBroker(log_path=tmp / "broker.log")
    else:
        broker = KafkaCluster(data_dir=tmp, nodes=int(kind.split("-")[1]), logs_dir=tmp / "logs")
    started = time.monotonic()
    try:
        broker.start_blocking()
        wall = time.monotonic() - started
        if isinstance(broker, KafkaCluster):
            return wall, broker.format_seconds, broker.start_seconds
        return wall, None, broker.start_seconds
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kinds", default="tansu,kafka-1,kafka-3")
    args = parser.parse_args()
    distribution = resolve()  # fetch the jars first, outside the timings
    run_start = begin_run()
    lines = [
        f"Apache Kafka {distribution.version} on {distribution.java}; medians of {args.runs} fresh starts",
        "",
        "| broker | ready (wall) | storage format | spawn to all nodes ready | runs (wall) |",
        "|---|---:|---:|---:|---|",
    ]
    for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
        runs = [start_once(kind) for _ in range(args.runs)]
        wall = statistics.median(r[0] for r in runs)
        formats = [r[1] for r in runs if r[1] is not None]
        ready = [r[2] for r in runs if r[2] is not None]
        fmt = f"{statistics.median(formats):.2f} s" if formats else "-"
        spawn = f"{statistics.median(ready):.2f} s" if ready else "-"
        lines.append(f"| {kind} | {wall:.2f} s | {fmt} | {spawn} | {', '.join(f'{r[0]:.2f}' for r in runs)} |")
    report = "\n".join(lines)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "broker_start.md").write_text(report + "\n")
    run_start.save(
        name="broker_start",
        title="Broker start",
        infra=f"{args.kinds} (embedded; Apache Kafka {distribution.version})",
        markdown=report,
    )
    print(report)


if __name__ == "__main__":
    main()
