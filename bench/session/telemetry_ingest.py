"""Telemetry ingestion benchmark: one session-service process, batched windows vs /healthz in the same run.

Run (dev broker and PostgreSQL up)::

    .venv/bin/python bench/session/telemetry_ingest.py --sessions 2000 --batch 100 --concurrency 8 --seconds 20

What it does: creates a fresh database, starts ``python -m rapport_session serve`` as its own process
(uvicorn, one worker), a fake consent check endpoint in this process (every client consents), seeds care
assignments straight into the service's table (benchmark set-up only), schedules and starts the sessions
through the API, then posts batches of per-minute windows (rotating through the sessions) from
``concurrency`` workers for ``seconds`` and, in the same run, probes ``/healthz`` for comparison.
Reported: requests/s, windows/s, latency p50/p99 of both, and the outbox backlog left at the end.
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
            sessions = await _seed(http, database_url, args.sessions)
            print(f"seeded {len(sessions)} running sessions", flush=True)
            result = await _load(http, sessions, args)
        backlog = await (await asyncpg.connect(database_url)).fetchval(
            "SELECT count(*) FROM outbox WHERE state = 'pending'"
        )
        print(result + f"\noutbox rows still pending at the end: {backlog}")
    finally:
        service.terminate()
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        consent.should_exit = True
        await asyncio.sleep(0.2)


async def _seed(http: httpx.AsyncClient, database_url: str, count: int) -> list[str]:
    conn = await asyncpg.connect(database_url)
    pairs = [(f"bench-client-{i}", f"bench-clinician-{i % 200}") for i in range(count)]
    await conn.executemany(
        "INSERT INTO assignments (client_id, clinician_id, assigned_at) VALUES ($1, $2, now())", pairs
    )
    await conn.close()
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


async def _load(http: httpx.AsyncClient, sessions: list[str], args: Any) -> str:
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

    async def worker() -> None:
        nonlocal windows_sent, errors
        while time.perf_counter() < deadline:
            batch = next_batch()
            began = time.perf_counter()
            try:
                response = await http.post("/telemetry", json={"windows": batch}, headers=headers)
            except httpx.HTTPError:
                errors += 1
                latencies.append(time.perf_counter() - began)
                continue
            latencies.append(time.perf_counter() - began)
            if response.status_code == 202 and response.json()["accepted"] == len(batch):
                windows_sent += len(batch)
            else:
                errors += 1

    async def prober() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                await http.get("/healthz")
            health.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)), prober())
    elapsed = time.perf_counter() - began
    return (
        f"telemetry: {len(latencies) / elapsed:.1f} requests/s, {windows_sent / elapsed:.0f} windows/s "
        f"({args.batch} windows/request, {args.concurrency} concurrent, {elapsed:.1f} s, {errors} failed requests); "
        f"latency p50 {_pct(latencies, 0.5):.1f} ms, p99 {_pct(latencies, 0.99):.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms\n"
        f"/healthz during the run: {len(health)} probes, "
        f"p50 {_pct(health, 0.5):.1f} ms, p99 {_pct(health, 0.99):.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
