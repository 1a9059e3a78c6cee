"""Telemetry ingestion benchmark: one session-service process, batched windows vs /healthz in the same run.

Run (dev broker and PostgreSQL up; see bench/README.md)::

    .venv/bin/python bench/session/telemetry_ingest.py --sessions 2000 --batch 100 --rate 1500 --seconds 20

What it does: creates a fresh database, starts ``python -m rapport_session serve`` as its own process
(uvicorn, one worker), a fake consent check endpoint in this process (every client consents), publishes the
clients' consents to ``consent.events`` as the consent service would (the service's local consent view then
answers the hot path), seeds care assignments straight into the service's table (benchmark set-up only),
schedules and starts the sessions through the API, then posts batches of per-minute windows (rotating
through the sessions) for ``seconds``: open loop at ``--rate`` windows/s (latency from each request's
scheduled send time) or, with ``--rate 0``, closed loop from ``--concurrency`` workers. ``/healthz`` is
probed in the same run as the baseline. Reported: requests/s, windows/s, latency p50/p99 of both, the outbox
backlog when the load stopped, how long the relay took to publish it, and the sustained rate (accepted and
published). ``--profile out.txt`` records the service with py-spy (collapsed stacks; ``.svg``: flame graph).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI

from rapport_common.auth import issue_token
from rapport_common.events import encode_event, new_event
from rapport_common.events.consent import ConsentGranted, ConsentGrantedData, GrantedBy
from rapport_common.kafka.producer import EventProducer

SECRET = "bench-secret-of-at-least-32-bytes!!"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _consent_server(port: int) -> uvicorn.Server:
    app = FastAPI()

    @app.get("/consents/check")
    async def check() -> dict[str, bool]:
        return {"active": True}

    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off", access_log=False))
    asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return server


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="windows per request")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="open loop: windows/s offered at a fixed pace (latency counts from each request's scheduled send "
        "time, so queueing is included); 0 = closed loop with --concurrency workers as fast as they go",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="record the service with py-spy: a flame graph, or collapsed stacks if .txt"
    )
    parser.add_argument(
        "--admin-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"))
    args = parser.parse_args()

    name = f"session_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    consent_port, http_port = _free_port(), _free_port()
    consent = await _consent_server(consent_port)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": args.kafka,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "JWT_SECRET": SECRET,
        "HTTP_PORT": str(http_port),
        "CONSENT_SERVICE_URL": f"http://127.0.0.1:{consent_port}",
        "CONSENT_CACHE_TTL_S": "60",
        "CONSENT_TIMEOUT_S": "5",  # the fake answers from this busy process; production keeps 0.5 s
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_MAX": "10",
    }
    service = subprocess.Popen([sys.executable, "-m", "rapport_session", "serve"], env=env)  # noqa: ASYNC220
    profiler: subprocess.Popen[bytes] | None = None
    try:
        base = f"http://127.0.0.1:{http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=64)) as http:
            for _ in range(300):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            sessions = await _seed(http, database_url, args.sessions, args.kafka)
            print(f"seeded {len(sessions)} running sessions", flush=True)
            conn = await asyncpg.connect(database_url)
            await _drain(conn)
            if args.profile:
                fmt = "raw" if args.profile.endswith(".txt") else "flamegraph"  # raw: collapsed stacks
                spy = ["py-spy", "record", "-p", str(service.pid), "-o", args.profile, "--format", fmt]
                profiler = subprocess.Popen([*spy, "-d", str(int(args.seconds))])  # noqa: ASYNC220
            began = time.perf_counter()
            result, windows = await _load(http, sessions, args)
            load_s = time.perf_counter() - began
            backlog = await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
            drained_s = await _drain(conn)
            await conn.close()
        print(result)
        print(
            f"outbox rows pending when the load stopped: {backlog}; published all in {drained_s:.1f} s more; "
            f"sustained (accepted and published to the topic): {windows / (load_s + drained_s):.0f} windows/s"
        )
    finally:
        if profiler is not None:
            profiler.wait(60)
        service.terminate()
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        consent.should_exit = True
        await asyncio.sleep(0.2)


async def _drain(conn: asyncpg.Connection) -> float:
    """Seconds until the relay has published every outbox row."""
    began = time.perf_counter()
    while await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'"):
        await asyncio.sleep(0.1)
    return time.perf_counter() - began


async def _grant_consents(kafka: str, database_url: str, clients: list[str]) -> None:
    """Publish the clients' consents to ``consent.events`` as the consent service would, and wait until the
    service's local consent view holds them (the hot path reads that view, not the consent service)."""
    producer = EventProducer(kafka, enable_idempotence=False, client_id="telemetry-bench")
    await producer.start()
    try:
        now = datetime.now(UTC)
        records = []
        for client in clients:
            for scope in ("telehealth-treatment", "alliance-analytics"):
                data = ConsentGrantedData(
                    consent_id=f"{client}-{scope}-{uuid.uuid4().hex[:6]}",
                    client_id=client,
                    scope=scope,
                    granted_by=GrantedBy(actor_id=client, role="client"),
                    method="e-signature",
                    document_version="1",
                    valid_from=now - timedelta(days=1),
                )
                event = new_event(ConsentGranted, subject=client, source="/rapport/consent", data=data, time=now)
                records.append(encode_event(event))
        assert all(await producer.publish(records)), "the broker refused consent events"
    finally:
        await producer.stop()
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(600):
            if await conn.fetchval("SELECT count(*) FROM consent_view WHERE client_id = ANY($1)", clients) >= 2 * len(
                clients
            ):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the local consent view did not learn the benchmark's consents within 60 s")
    finally:
        await conn.close()


async def _seed(http: httpx.AsyncClient, database_url: str, count: int, kafka: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    pairs = [(f"bench-client-{i}", f"bench-clinician-{i % 200}") for i in range(count)]
    await conn.executemany(
        "INSERT INTO assignments (client_id, clinician_id, assigned_at) VALUES ($1, $2, now())", pairs
    )
    await conn.close()
    await _grant_consents(kafka, database_url, [client for client, _ in pairs])
    start = datetime.now(UTC) + timedelta(days=1)  # starting early is allowed; no timer fires during the run
    semaphore = asyncio.Semaphore(16)

    async def one(client: str, clinician: str) -> str:
        headers = {"authorization": f"Bearer {issue_token(SECRET, subject=clinician, role='clinician')}"}
        async with semaphore:
            booked = await http.post(
                "/sessions",
                json={
                    "client_id": client,
                    "scheduled_start": start.isoformat(),
                    "scheduled_end": (start + timedelta(minutes=50)).isoformat(),
                },
                headers=headers,
            )
            assert booked.status_code == 201, booked.text
            sid = booked.json()["session_id"]
            started = await http.post(f"/sessions/{sid}/start", headers=headers)
            assert started.status_code == 200, started.text
            return str(sid)

    return list(await asyncio.gather(*(one(c, k) for c, k in pairs)))


async def _load(http: httpx.AsyncClient, sessions: list[str], args: Any) -> tuple[str, int]:
    headers = {"authorization": f"Bearer {issue_token(SECRET, subject='video-gateway', role='service')}"}
    base_time = datetime.now(UTC)
    latencies: list[float] = []
    health: list[float] = []
    windows_sent = 0
    errors = 0
    cursor = 0
    minute = 0
    deadline = time.perf_counter() + args.seconds

    def next_batch() -> list[dict[str, Any]]:
        nonlocal cursor, minute
        batch = []
        for _ in range(args.batch):
            sid = sessions[cursor]
            cursor += 1
            if cursor == len(sessions):
                cursor, minute = 0, minute + 1
            start = base_time + timedelta(minutes=minute)
            batch.append(
                {
                    "session_id": sid,
                    "window_start": start.isoformat(),
                    "window_end": (start + timedelta(minutes=1)).isoformat(),
                    "client_talk_ratio": 0.35,
                    "client_camera_on_ratio": 0.9,
                    "longest_silence_s": 14.0,
                }
            )
        return batch

    async def post(batch: list[dict[str, Any]], began: float) -> None:
        nonlocal windows_sent, errors
        try:
            response = await http.post("/telemetry", json={"windows": batch}, headers=headers)
        except httpx.HTTPError:
            errors += 1
            latencies.append(time.perf_counter() - began)
            return
        latencies.append(time.perf_counter() - began)
        if response.status_code == 202 and response.json()["accepted"] == len(batch):
            windows_sent += len(batch)
        else:
            errors += 1

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await post(next_batch(), time.perf_counter())

    async def paced() -> None:
        """Open loop: one request every batch/rate seconds, however long earlier ones take."""
        interval = args.batch / args.rate
        scheduled = time.perf_counter()
        in_flight: set[asyncio.Task[None]] = set()
        while scheduled < deadline:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(post(next_batch(), scheduled))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            scheduled += interval
        await asyncio.gather(*in_flight)

    async def prober() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                await http.get("/healthz")
            health.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)

    began = time.perf_counter()
    load = [paced()] if args.rate > 0 else [worker() for _ in range(args.concurrency)]
    await asyncio.gather(*load, prober())
    elapsed = time.perf_counter() - began
    mode = f"open loop at {args.rate:.0f} windows/s offered" if args.rate > 0 else f"{args.concurrency} concurrent"
    return (
        f"telemetry: {len(latencies) / elapsed:.1f} requests/s, {windows_sent / elapsed:.0f} windows/s "
        f"({args.batch} windows/request, {mode}, {elapsed:.1f} s, {errors} failed requests); "
        f"latency p50 {_pct(latencies, 0.5):.1f} ms, p99 {_pct(latencies, 0.99):.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms\n"
        f"/healthz during the run: {len(health)} probes, "
        f"p50 {_pct(health, 0.5):.1f} ms, p99 {_pct(health, 0.99):.1f} ms"
    ), windows_sent


if __name__ == "__main__":
    asyncio.run(main())
