"""Benchmark: client registration (POST /clients, outbox included) through the real HTTP server, with
GET /healthz measured in the same run as the baseline of what the HTTP stack alone costs.

It creates a fresh database, starts ``python -m rapport_intake serve`` (uvicorn) as a child process against
it and the given broker, drives it with N concurrent keep-alive connections from this process, and at the
end checks that every accepted registration reached the broker (outbox rows published, none pending).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 \\
        .venv/bin/python bench/intake/client_registration.py --duration 10 --concurrency 32

Both run on the same machine: the load generator takes CPU from the server, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import httpx

from rapport_common.auth import issue_token

SECRET = "bench-secret-that-is-at-least-32-bytes-long"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc): what the server itself spent, whatever
    else the machine is doing, so a shared, loaded machine still yields a comparable per-request cost."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    count: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float = 0.0

    def line(self) -> str:
        lat = sorted(self.latencies_ms)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
        return (
            f"{self.name:<22} {self.count / self.seconds:8.0f} req/s   p50 {p(0.50):6.1f} ms   "
            f"p99 {p(0.99):6.1f} ms   max {lat[-1] if lat else 0:6.1f} ms   n={self.count} errors={self.errors}   "
            f"server CPU {1000 * self.server_cpu_s / max(1, self.count):.2f} ms/req"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def fresh_database(admin_url: str) -> str:
    name = f"intake_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rpartition('/')[0]}/{name}"


async def wait_ready(base: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("intake did not become ready")


async def drive(
    base: str,
    name: str,
    make: Callable[[httpx.AsyncClient], object],
    *,
    concurrency: int,
    duration_s: float,
    ok: int,
    server_pid: int,
) -> Result:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await make(http)  # type: ignore[misc]
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != ok:
                    errors += 1

        started, cpu_before = time.perf_counter(), cpu_seconds(server_pid)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(server_pid) - cpu_before
    return Result(name, len(latencies), errors, elapsed, latencies, cpu)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="admin URL (a DB is created)")
    parser.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"))
    parser.add_argument("--kafka-idempotence", action="store_true", help="on for Apache Kafka; off for Tansu")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-idempotency-key", action="store_true", help="POST without Idempotency-Key")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")

    database_url = await fresh_database(args.database_url)
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": args.kafka,
        "KAFKA_ENABLE_IDEMPOTENCE": "true" if args.kafka_idempotence else "false",
        "JWT_SECRET": SECRET,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_MAX": str(max(10, args.concurrency)),
    }
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "rapport_intake", "serve", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base)
        token = issue_token(SECRET, subject="bench-service", role="service", ttl_s=3600)
        headers = {"Authorization": f"Bearer {token}"}

        async def healthz(http: httpx.AsyncClient) -> httpx.Response:
            return await http.get("/healthz")

        async def register(http: httpx.AsyncClient) -> httpx.Response:
            extra = {} if args.no_idempotency_key else {"Idempotency-Key": uuid.uuid4().hex}
            body = {"age_band": "adult", "timezone": "Europe/Berlin"}
            return await http.post("/clients", json=body, headers=headers | extra)

        await drive(
            base, "warm-up", register, concurrency=args.concurrency, duration_s=1.0, ok=201, server_pid=server.pid
        )
        health = await drive(
            base,
            "GET /healthz",
            healthz,
            concurrency=args.concurrency,
            duration_s=args.duration,
            ok=200,
            server_pid=server.pid,
        )
        clients = await drive(
            base,
            "POST /clients",
            register,
            concurrency=args.concurrency,
            duration_s=args.duration,
            ok=201,
            server_pid=server.pid,
        )

        drained_at = time.perf_counter()
        conn = await asyncpg.connect(database_url)
        try:
            for _ in range(600):  # the relay drains the backlog; give it up to a minute
                if not await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'"):
                    break
                await asyncio.sleep(0.1)
            drain_s = time.perf_counter() - drained_at
            registered = await conn.fetchval("SELECT count(*) FROM clients")
            published = await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'published'")
            pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
        finally:
            await conn.close()

        print(
            f"concurrency {args.concurrency}, {args.duration:.0f} s per phase, idempotency key "
            f"{'off' if args.no_idempotency_key else 'on'}, python {sys.version.split()[0]}, {os.cpu_count()} cores"
        )
        print(health.line())
        print(clients.line())
        print(
            f"outbox: {registered} clients registered, {published} events published, {pending} pending "
            f"({drain_s:.2f} s after the load stopped)"
        )
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            f"median latency ratio registration/healthz: "
            f"{statistics.median(clients.latencies_ms) / statistics.median(health.latencies_ms):.1f}x"
        )
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), timeout=15)
        except TimeoutError:
            server.kill()


if __name__ == "__main__":
    asyncio.run(main())
