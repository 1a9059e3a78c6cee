"""Alliance-monitor speed in one run: raw consume rate, monitor processing rate, live-alert latency, RSS.

    .venv/bin/python bench/alliance_monitor/throughput.py [--pairs 3000] [--background 2000] [--pulses 100]
        [--profile] [--profile-out FILE]   # py-spy (PY_SPY=/tmp/pyspy/bin/py-spy) samples the monitor during (b)
        [--brokers tansu,kafka]   # the whole benchmark on each broker in turn, in this one run

Starts a private broker (Tansu, or Apache Kafka from its jars) and PostgreSQL (rapport_local), the monitor
as a subprocess (``python -m rapport_alliance_monitor``) after publishing the workload (a backlog), and then:

(b) a realistic mixed workload (per pair: client registration, assignment, three consent grants;
    then session started, four telemetry windows, session ended, ORS, pulse, SRS; one clinician per 25
    clients); reads ``rapport_kafka_records_consumed_total`` / ``rapport_kafka_consumer_lag`` from
    /metrics until every record is consumed and lag is 0; rate = records / (last - first consumed);
(a) reads the same records back with a plain aiokafka consumer (no group, no decoding): the baseline;
(d) monitor RSS (psutil) when ready (before its group join) and after the workload: per 1,000 pairs,
    extrapolated to 100,000;
(c) with background telemetry at ``--background`` events/s (lowered to 80% of (b) when (b) is below it,
    and the report says so), publishes ``--pulses`` pulse-submitted score 1 events, 100 ms apart, for a
    probe pair and times each until its alert arrives on the clinician's SSE stream.

Prints a markdown table and writes ``bench-results/alliance_monitor_throughput.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaConsumer

from rapport_alliance_monitor.settings import DEFAULT_TOPICS
from rapport_common.auth import issue_token
from rapport_common.events import encode_event
from rapport_common.events.codec import KafkaRecord
from rapport_common.events.consent import ConsentGranted
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.examples import example_event
from rapport_common.events.feedback import OrsSubmitted, PulseSubmitted, SrsSubmitted
from rapport_common.events.intake import ClientRegistered, ClinicianAssigned, ClinicianRegistered
from rapport_common.events.session import SessionEnded, SessionStarted, SessionTelemetry
from rapport_common.kafka.producer import EventProducer
from rapport_local.topics import ensure_topics

SECRET = "bench-secret-bench-secret-bench-secret!"
ROOT = Path(__file__).resolve().parents[2]
SCOPES = ("telehealth-treatment", "measurement-feedback", "alliance-analytics")
NOW = datetime.now(UTC).replace(microsecond=0)
_TEMPLATES: dict[type[Any], Any] = {}


def make(cls: type[Any], subject: str, at: datetime, **data: Any) -> Any:
    """A contract event from the example template, changed without re-validation (fast enough for 10^5)."""
    template = _TEMPLATES.get(cls)
    if template is None:
        template = _TEMPLATES[cls] = example_event(cls, subject=subject)
    return template.model_copy(
        update={"id": str(uuid.uuid4()), "subject": subject, "time": at, "data": template.data.model_copy(update=data)}
    )


def onboarding(client: str, clinician: str, at: datetime) -> list[Any]:
    events = [
        make(ClientRegistered, client, at, client_id=client),
        make(ClinicianAssigned, client, at, client_id=client, clinician_id=clinician, assigned_at=at),
    ]
    for scope in SCOPES:
        events.append(
            make(
                ConsentGranted,
                client,
                at,
                client_id=client,
                consent_id=f"{client}-{scope}",
                scope=scope,
                valid_from=at,
                valid_until=None,
            )
        )
    return events


def session(client: str, clinician: str, start: datetime, n: int) -> list[Any]:
    ids = {"client_id": client, "clinician_id": clinician, "session_id": f"{client}-s{n}"}
    events: list[Any] = [make(SessionStarted, client, start, **ids, started_at=start)]
    for w in range(4):
        ws = start + timedelta(minutes=w)
        events.append(
            make(
                SessionTelemetry,
                client,
                ws + timedelta(minutes=1),
                **ids,
                window_start=ws,
                window_end=ws + timedelta(minutes=1),
                client_talk_ratio=0.45,
                client_camera_on_ratio=1.0,
                longest_silence_s=8.0,
            )
        )
    end = start + timedelta(minutes=50)
    events.append(make(SessionEnded, client, end, **ids, ended_at=end))
    events.append(make(OrsSubmitted, client, start + timedelta(minutes=2), **ids, response_id=f"o-{client}-{n}"))
    events.append(make(PulseSubmitted, client, start + timedelta(minutes=30), **ids, response_id=f"p-{client}-{n}"))
    events.append(make(SrsSubmitted, client, end - timedelta(minutes=2), **ids, response_id=f"s-{client}-{n}"))
    return events


def workload(pairs: int, run: str) -> tuple[list[Any], list[Any]]:
    """(setup events, activity events) for ``pairs`` client-clinician pairs."""
    t0 = NOW - timedelta(days=2)
    clinicians = [f"k{run}-{i}" for i in range(max(1, pairs // 25))]
    setup: list[Any] = [make(ClinicianRegistered, k, t0 - timedelta(days=30), clinician_id=k) for k in clinicians]
    activity: list[Any] = []
    for i in range(pairs):
        client, clinician = f"c{run}-{i}", clinicians[i % len(clinicians)]
        setup += onboarding(client, clinician, t0 - timedelta(days=10))
        activity += session(client, clinician, t0 + timedelta(seconds=i), 1)
    return setup, activity


class Publisher:
    def __init__(self, bootstrap: str) -> None:
        self.producer = EventProducer(bootstrap, enable_idempotence=IDEMPOTENCE["value"])

    async def publish(self, events: list[CloudEvent[Any]]) -> None:
        for i in range(0, len(events), 1000):
            records = [encode_event(e) for e in events[i : i + 1000]]
            sent = await self.producer.publish([KafkaRecord(r.topic, r.key, r.value, r.headers) for r in records])
            assert all(sent), "publish failed"


# -- the monitor subprocess -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: the producers' idempotence per broker of this run (Apache Kafka grants producer ids, Tansu does not)
IDEMPOTENCE = {"value": False}


def start_monitor(database_url: str, bootstrap: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": str(IDEMPOTENCE["value"]).lower(),
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "HTTP_PORT": str(port),
        "JWT_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "rapport_alliance_monitor"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def metric_value(text: str, name: str, label: str = "") -> float:
    """The sum of metric ``name``'s samples (those whose labels contain ``label``)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ") and label in line
    )


def metric_sums(text: str) -> tuple[float, float]:
    """(records consumed, lag) of the monitor's consumer group, summed over topics/partitions."""
    consumed = lag = 0.0
    for line in text.splitlines():
        if line.startswith("rapport_kafka_records_consumed_total{") and 'service="alliance-monitor"' in line:
            consumed += float(line.rsplit(" ", 1)[1])
        elif line.startswith("rapport_kafka_consumer_lag{") and 'service="alliance-monitor"' in line:
            lag += float(line.rsplit(" ", 1)[1])
    return consumed, lag


async def wait_ready(http: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"monitor exited with {proc.returncode}; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise SystemExit("monitor not ready after 60 s")


# -- phases -----------------------------------------------------------------------------------------------


async def processing_rate(http: httpx.AsyncClient, total: int, timeout_s: float) -> dict[str, float]:
    """Poll /metrics until ``total`` records are consumed and lag is 0 (or timeout)."""
    first_t = None
    first_c = 0.0
    started = time.perf_counter()
    consumed = lag = 0.0
    held_peak = violations = 0.0
    while time.perf_counter() - started < timeout_s:
        text = (await http.get("/metrics")).text
        consumed, lag = metric_sums(text)
        held_peak = max(held_peak, metric_value(text, "rapport_alliance_consent_holds"))
        violations = metric_value(text, "rapport_alliance_alerts_raised_total", 'rule="consent-violation"')
        now = time.perf_counter()
        if first_t is None and consumed > 0:
            first_t, first_c = now, consumed
        if consumed >= total and lag == 0:
            break
        await asyncio.sleep(0.2)
    end = time.perf_counter()
    elapsed = end - (first_t or started)
    return {
        "consumed": consumed,
        "lag": lag,
        "elapsed": elapsed,
        "rate": (consumed - first_c) / elapsed if elapsed > 0 else 0.0,
        "done": float(consumed >= total and lag == 0),
        "held_peak": held_peak,
        "violations": violations,
    }


async def raw_rate(bootstrap: str, total: int) -> float:
    reader = AIOKafkaConsumer(*DEFAULT_TOPICS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await reader.start()
    seen = 0
    started = time.perf_counter()
    while seen < total:
        batches = await reader.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(b) for b in batches.values())
    elapsed = time.perf_counter() - started
    await reader.stop()
    return seen / elapsed


async def latency(
    base_url: str, publisher: Publisher, pulses: int, background: float, run: str, bg_pool: list[tuple[str, str]]
) -> tuple[list[float], float]:
    """Pulse -> SSE latencies (ms) under background telemetry; returns (latencies, achieved background rate)."""
    client, clinician = f"probe{run}", f"kprobe{run}"
    t0 = NOW - timedelta(hours=1)
    await publisher.publish(
        [
            make(ClinicianRegistered, clinician, t0 - timedelta(days=30), clinician_id=clinician),
            *onboarding(client, clinician, t0 - timedelta(days=1)),
        ]
    )
    await publisher.publish(session(client, clinician, t0, 1)[:1])
    arrived: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    connected = asyncio.Event()

    async def read_stream() -> None:
        headers = {"Authorization": f"Bearer {issue_token(SECRET, subject=clinician, role='clinician')}"}
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None)) as http,
            http.stream("GET", "/alerts/stream", headers=headers) as response,
        ):
            connected.set()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    alert = json.loads(line[6:])["alert"]
                    arrived.setdefault(alert["evidence"][0], loop.time())

    reader = asyncio.create_task(read_stream())
    await asyncio.wait_for(connected.wait(), 10)
    await asyncio.sleep(3.0)  # the probe's onboarding analysed
    stop = asyncio.Event()
    bg_sent = 0

    async def background_load() -> None:
        nonlocal bg_sent
        tick = 0.05
        per_tick = max(1, int(background * tick))
        n = 0
        next_at = loop.time()
        while not stop.is_set():
            batch = []
            for _ in range(per_tick):
                c, k = bg_pool[n % len(bg_pool)]
                ws = NOW - timedelta(hours=3) + timedelta(seconds=n)
                batch.append(
                    make(
                        SessionTelemetry,
                        c,
                        ws + timedelta(minutes=1),
                        client_id=c,
                        clinician_id=k,
                        session_id=f"{c}-bg",
                        window_start=ws,
                        window_end=ws + timedelta(minutes=1),
                        client_talk_ratio=0.45,
                        client_camera_on_ratio=1.0,
                        longest_silence_s=8.0,
                    )
                )
                n += 1
            await publisher.publish(batch)
            bg_sent += len(batch)
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    bg = asyncio.create_task(background_load())
    await asyncio.sleep(2.0)  # load running before the first probe
    bg_started, bg_sent_at_start = loop.time(), bg_sent
    latencies = []
    for n in range(pulses):
        pulse = make(
            PulseSubmitted,
            client,
            datetime.now(UTC),
            client_id=client,
            clinician_id=clinician,
            session_id=f"{client}-s1",
            response_id=f"probe-{n}",
            score=1,
        )
        sent = loop.time()
        await publisher.publish([pulse])
        while pulse.id not in arrived and loop.time() - sent < 10:
            await asyncio.sleep(0.001)
        if pulse.id in arrived:
            latencies.append((arrived[pulse.id] - sent) * 1000)
        await asyncio.sleep(0.1)
    achieved = (bg_sent - bg_sent_at_start) / (loop.time() - bg_started)
    stop.set()
    await bg
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    return latencies, achieved


def profile_summary(raw: Path) -> str:
    """Top own-time frames and top inclusive project frames from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            if "rapport" in frame or "asyncpg" in frame or "aiokafka" in frame or "pydantic" in frame:
                inclusive[frame] += n
    lines = [f"py-spy samples: {total}", "", "| own time | frame |", "|---:|---|"]
    lines += [f"| {n / total:.0%} | `{f[:110]}` |" for f, n in own.most_common(12)]
    lines += ["", "| inclusive | frame (project / db / kafka / pydantic) |", "|---:|---|"]
    lines += [f"| {n / total:.0%} | `{f[:110]}` |" for f, n in inclusive.most_common(15)]
    return "\n".join(lines)


async def run(args: argparse.Namespace, bootstrap: str, admin_url: str, tmp: Path) -> str:
    rid = uuid.uuid4().hex[:6]
    await ensure_topics(
        bootstrap,
        [*DEFAULT_TOPICS, *(f"{t}.dlq" for t in DEFAULT_TOPICS), "alliance.alerts", "alliance.alerts.dlq"],
        partitions=6,
    )
    setup, activity = workload(args.pairs, rid)
    total_workload = len(setup) + len(activity)
    publisher = Publisher(bootstrap)
    await publisher.producer.start()
    # the workload is published first (a backlog), so (b) measures processing, not the producer
    t = time.perf_counter()
    await publisher.publish(setup)
    await publisher.publish(activity)
    publish_rate = total_workload / (time.perf_counter() - t)
    port = free_port()
    proc = start_monitor(admin_url, bootstrap, port, tmp / "monitor.log")
    ps = psutil.Process(proc.pid)
    lines: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await wait_ready(http, proc)
            # baseline: ready, before the group join (Tansu: about half the session timeout) hands it partitions
            consumed_at_baseline, _ = metric_sums((await http.get("/metrics")).text)
            rss_before = ps.memory_info().rss
            profiler = None
            if args.profile:
                profiler = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                    [args.py_spy, "record", "-p", str(proc.pid), "-d", "12", "-f", "raw", "-o", str(tmp / "prof.txt")],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            b = await processing_rate(http, total_workload, args.timeout)
            if profiler is not None:
                profiler.wait(40)
            rss_after = ps.memory_info().rss
            a = await raw_rate(bootstrap, total_workload)
            background = args.background
            if b["rate"] * 0.8 < background:
                background = max(100.0, b["rate"] * 0.8)
            pool = [(f"c{rid}-{i}", f"k{rid}-{i % max(1, args.pairs // 25)}") for i in range(args.pairs)]
            lat, achieved = await latency(f"http://127.0.0.1:{port}", publisher, args.pulses, background, rid, pool)
            rss_end = ps.memory_info().rss
    finally:
        await publisher.producer.stop()
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            proc.kill()

    mb = 1024 * 1024
    per_k = (rss_after - rss_before) / mb / (args.pairs / 1000)
    extrapolated = rss_after / mb + per_k * (100_000 - args.pairs) / 1000
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
    ratio = b["rate"] / a if a else 0.0
    p99 = q[98] if lat else float("nan")
    lines += [
        f"# Alliance-monitor throughput ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.pairs} pairs, "
        f"{total_workload} workload events, {os.cpu_count()} cores, embedded Tansu + PostgreSQL)",
        "",
        f"Command: `.venv/bin/python bench/alliance_monitor/throughput.py {' '.join(sys.argv[1:])}`",
        "",
        "| measure | value | target | met |",
        "|---|---:|---:|---|",
        f"| (a) raw aiokafka consume of the workload (no processing) | {a:,.0f} ev/s | baseline | |",
        f"| (b) monitor sustained processing (metrics until lag 0) | {b['rate']:,.0f} ev/s "
        f"({b['consumed']:,.0f} in {b['elapsed']:.1f} s{'' if b['done'] else ', NOT finished: timeout'}) "
        f"| >= 10% of (a) = {a * 0.1:,.0f} | {'yes' if ratio >= 0.1 else 'no'} ({ratio:.1%}) |",
        f"| (b) events held for their consent at the peak (hold job's gauge; topics are read in no fixed "
        f"order, so a backlog's session events can come before their client's grants) | {b['held_peak']:,.0f} | | |",
        f"| (b) consent-violation alerts raised (every client consented: each one is a hold that ended before "
        f"its grant was read) | {b['violations']:,.0f} | 0 | {'yes' if b['violations'] == 0 else 'no'} |",
        f"| (c) pulse -> SSE alert latency p50 / p95 / p99 ({len(lat)}/{args.pulses} delivered) "
        f"| {statistics.median(lat) if lat else float('nan'):.1f} / {q[94] if lat else float('nan'):.1f} / "
        f"{p99:.1f} ms | p99 < 150 ms | {'yes' if p99 < 150 else 'no'} |",
        f"| (c) background load during (c) (requested {args.background:,.0f}) | {achieved:,.0f} ev/s "
        f"| 2,000 ev/s | {'yes' if achieved >= 1900 else 'no: lowered to 80% of (b)'} |",
        f"| (d) records consumed when the RSS baseline was taken | {consumed_at_baseline:,.0f} | 0 | |",
        f"| (d) monitor RSS before / after {args.pairs} pairs / at end | {rss_before / mb:.0f} / "
        f"{rss_after / mb:.0f} / {rss_end / mb:.0f} MB | | |",
        f"| (d) RSS growth per 1,000 pairs | {per_k:.2f} MB | | |",
        (
            f"| (d) RSS with {args.pairs:,} pairs in state (MEASURED, at end) | {rss_end / mb:.0f} MB | < 400 MB "
            f"| {'yes' if rss_end / mb < 400 else 'no'} |"
            if args.pairs >= 100_000
            else f"| (d) RSS at 100,000 pairs (EXTRAPOLATED linearly, not measured) | {extrapolated:.0f} MB "
            f"| < 400 MB | {'yes' if extrapolated < 400 else 'no'} (extrapolation) |"
        ),
        f"| workload publish rate (producer, batches of 1000) | {publish_rate:,.0f} ev/s | | |",
        "",
    ]
    if args.profile and (tmp / "prof.txt").exists() and args.profile_out is not None:
        args.profile_out.write_text((tmp / "prof.txt").read_text())
    if args.profile and (tmp / "prof.txt").exists():
        lines += ["## Profile of the monitor during (b) (py-spy, 10 s)", "", profile_summary(tmp / "prof.txt"), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--background", type=float, default=2000.0)
    parser.add_argument("--pulses", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds to wait for (b) to drain")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's collapsed stacks here (for flame graphs)")
    parser.add_argument("--py-spy", default=os.environ.get("PY_SPY", "/tmp/pyspy/bin/py-spy"))
    parser.add_argument(
        "--brokers",
        default="tansu",
        help="comma-separated, run one after the other in this process: tansu, kafka (Apache Kafka, one node)",
    )
    args = parser.parse_args()
    reports = []
    for kind in [b.strip() for b in args.brokers.split(",") if b.strip()]:
        reports.append(f"# Broker: {kind}\n\n" + run_on(kind, args))
    report = "\n\n".join(reports)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "alliance_monitor_throughput.md").write_text(report)
    print(report)


def run_on(kind: str, args: argparse.Namespace) -> str:
    """The whole benchmark on a fresh broker of ``kind`` and a fresh PostgreSQL."""
    from rapport_local.broker import EmbeddedBroker
    from rapport_local.kafka import KafkaCluster
    from rapport_local.postgres import EmbeddedPostgres

    tmp = Path(tempfile.mkdtemp(prefix=f"rapport-am-bench-{kind}-"))
    broker: EmbeddedBroker | KafkaCluster
    if kind == "kafka":
        broker = KafkaCluster(data_dir=tmp, logs_dir=tmp / "logs")
    elif kind == "tansu":
        broker = EmbeddedBroker(log_path=tmp / "broker.log")
    else:
        raise SystemExit(f"--brokers: unknown broker {kind!r}")
    IDEMPOTENCE["value"] = broker.idempotence
    broker.start_blocking()
    pg = EmbeddedPostgres(tmp / "pg")
    try:
        pg.start()
        if args.profile:
            os.environ["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
        report = asyncio.run(run(args, broker.bootstrap_servers, pg.url(), tmp))
    finally:
        pg.stop()
        broker.stop()
    print(f"(monitor log: {tmp / 'monitor.log'})", file=sys.stderr)
    return (
        f"{broker.kind} {broker.version}, producers with idempotence {'on' if broker.idempotence else 'off'}\n\n"
        + report
    )


if __name__ == "__main__":
    main()
