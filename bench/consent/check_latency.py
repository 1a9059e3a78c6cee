"""Benchmark: the synchronous consent check (GET /consents/check) and the ledger append rate, through the
real HTTP server, with GET /healthz measured in the same run as the baseline of the HTTP stack alone.

It creates a fresh database, starts ``python -m rapport_consent serve`` (uvicorn, one process) against it
and the given broker, seeds clients (the intake projection, written directly: bench only), grants consents
over HTTP with C concurrent connections (each grant = consent row + ledger append + outbox row in one
transaction: that rate is the ledger append rate), then measures healthz and check

- closed loop: C concurrent keep-alive connections as fast as they go (throughput), and
- open loop: a fixed arrival rate (--rate, default 500/s); latency counts from the scheduled send time,
  so queueing is included (no coordinated omission).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 \\
        .venv/bin/python tests/consent/bench_check.py --duration 8 --rate 500

Load generator and server share the machine's 2 cores, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx

from rapport_common.auth import issue_token

SECRET = "bench-secret-that-is-at-least-32-bytes-long"
SCOPES = ["telehealth-treatment", "session-recording", "measurement-feedback", "alliance-analytics"]


def cpu_seconds(pid: int) -> float:
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
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.rate:7.0f} req/s  p50 {self.pct(0.5):6.2f} ms  p99 {self.pct(0.99):6.2f} ms  "
            f"n={self.count} errors={self.errors}  "
            f"server CPU {1000 * self.server_cpu_s / max(1, self.count):.2f} ms/req"
        )


async def closed_loop(
    name: str, pid: int, call: Callable[[], Awaitable[httpx.Response]], concurrency: int, duration: float
) -> Result:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = await call()
            latencies.append(1000 * (time.perf_counter() - started))
            errors += response.status_code >= 400

    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, len(latencies), errors, time.perf_counter() - t0, latencies, cpu_seconds(pid) - cpu0)


async def open_loop(
    name: str, pid: int, call: Callable[[], Awaitable[httpx.Response]], rate: float, duration: float
) -> Result:
    latencies: list[float] = []
    errors = 0
    total = int(rate * duration)
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal errors
        scheduled = t0 + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            response = await call()
            errors += response.status_code >= 400
        except httpx.HTTPError:
            errors += 1
        latencies.append(1000 * (time.perf_counter() - scheduled))

    await asyncio.gather(*(one(i) for i in range(total)))
    return Result(name, total, errors, time.perf_counter() - t0, latencies, cpu_seconds(pid) - cpu0)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--clients", type=int, default=400)
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    name = f"consent_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    database_url = f"{admin.rpartition('/')[0]}/{name}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "JWT_SECRET": SECRET,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "CONSENT_CONSUMER_GROUP": f"consent-bench-{uuid.uuid4().hex[:8]}",
        "DATABASE_POOL_MAX": "20",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rapport_consent", "serve", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=httpx.Timeout(30, pool=None)) as http:
            for _ in range(300):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            clients = [f"bench-client-{i}-{uuid.uuid4().hex[:6]}" for i in range(args.clients)]
            db = await asyncpg.connect(database_url)
            await db.executemany(
                "INSERT INTO clients (client_id, age_band, registered_at) VALUES ($1, 'adult', now())",
                [(c,) for c in clients],
            )
            await db.close()

            # ledger append rate: grants over HTTP, C at a time
            queue = [(c, s) for c in clients for s in SCOPES[: 1 + hash(c) % 3]]
            tokens = {c: {"Authorization": f"Bearer {issue_token(SECRET, subject=c, role='client')}"} for c in clients}
            done = 0

            async def granter() -> None:
                nonlocal done
                while queue:
                    client_id, scope = queue.pop()
                    r = await http.post(
                        "/consents", json={"client_id": client_id, "scope": scope}, headers=tokens[client_id]
                    )
                    assert r.status_code == 201, r.text
                    done += 1

            t0, grant_cpu0 = time.perf_counter(), cpu_seconds(server.pid)
            await asyncio.gather(*(granter() for _ in range(args.concurrency)))
            grant_s = time.perf_counter() - t0
            grant_cpu = cpu_seconds(server.pid) - grant_cpu0
            print(
                f"ledger appends via POST /consents: {done / grant_s:.0f}/s ({done} grants, {args.concurrency} conns, "
                f"server CPU {1000 * grant_cpu / done:.2f} ms/grant)"
            )

            service = {"Authorization": f"Bearer {issue_token(SECRET, subject='bench', role='service')}"}
            rng = random.Random(1)

            def check() -> Awaitable[httpx.Response]:
                params = {"client_id": rng.choice(clients), "scope": rng.choice(SCOPES)}
                return http.get("/consents/check", params=params, headers=service)

            def healthz() -> Awaitable[httpx.Response]:
                return http.get("/healthz")

            pid = server.pid
            assert pid is not None
            for _ in range(200):  # warm up
                await check()
            results = [
                await closed_loop(
                    f"healthz closed c={args.concurrency}", pid, healthz, args.concurrency, args.duration
                ),
                await closed_loop(f"check   closed c={args.concurrency}", pid, check, args.concurrency, args.duration),
                await open_loop(f"healthz open {args.rate:.0f}/s", pid, healthz, args.rate, args.duration),
                await open_loop(f"check   open {args.rate:.0f}/s", pid, check, args.rate, args.duration),
            ]
            for result in results:
                print(result.line())
            hc, cc, ho, co = results
            print(
                f"check/healthz: throughput {cc.rate / hc.rate:.2f}, server CPU per request "
                f"{(cc.server_cpu_s / cc.count) / (hc.server_cpu_s / hc.count):.2f}, "
                f"p99 at {args.rate:.0f}/s {co.pct(0.99) / ho.pct(0.99):.2f} "
                f"({co.pct(0.99):.2f} ms vs {ho.pct(0.99):.2f} ms)"
            )
    finally:
        server.terminate()
        await server.wait()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so a killed run still stops its server and drops its DB
    asyncio.run(main())
