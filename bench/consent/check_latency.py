"""Benchmark: the synchronous consent check (GET /consents/check) at a fixed arrival rate through the real
HTTP server, with GET /healthz at the same rate in the same run as the baseline of the HTTP stack alone.

    .venv/bin/python bench/consent/check_latency.py [--duration 10] [--rate 500] [--connections 32]
        [--clients 400] [--grant-concurrency 16] [--profile]

It creates a fresh database, starts ``python -m rapport_consent serve`` (uvicorn, one process) against it
(on DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else on a private embedded PostgreSQL and Tansu
broker), seeds clients (the intake projection, written directly: bench only), grants 1-3 consents per
client over HTTP (each grant = consent row + ledger append + outbox row in one transaction: that rate is
the ledger append rate), then runs two open-loop phases, ``/healthz`` then ``/consents/check``:

- a fixed arrival rate (``--rate``) over ``--connections`` persistent keep-alive connections; request i is
  due at ``t0 + i / rate`` and its latency counts from that time, so a request that waits for a free
  connection (all busy) has the wait in its latency (no coordinated omission);
- the load generator is a minimal HTTP/1.1 client on ``asyncio.open_connection`` (write the request, read
  the status line and headers, read exactly Content-Length bytes): httpx cost more CPU per request than
  the server, which on 2 cores capped what could be offered;
- a check counts as an error unless it answers 200 with a JSON body holding a boolean ``active``; a
  healthz unless 200. Percentiles are over the successful requests.

Reported per phase: achieved rate, p50/p90/p99/max latency, errors, server CPU ms/request (from
``/proc/<pid>/stat``: what the server itself spent, whatever else runs) and the generator's own CPU
ms/request; then check/healthz ratios. Written to ``bench-results/consent_check.md`` too.
``--profile`` runs the server under pyinstrument (about twice the server CPU per request) and writes
``bench-results/consent_check_profile.{html,txt}``, printing the text tree.

Generator and server share the machine, so on a 2-core box the figures are a floor; compare the
ratio to /healthz across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from rapport_common.auth import issue_token

SECRET = "bench-secret-that-is-at-least-32-bytes-long"
SCOPES = ["telehealth-treatment", "session-recording", "measurement-feedback", "alliance-analytics"]
HOST = "127.0.0.1"
RESULTS = Path(__file__).resolve().parents[2] / "bench-results"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the load generator's HTTP client ---------------------------------------------------------------------


class ProtocolError(Exception):
    """An answer this minimal client does not read (no Content-Length, a malformed status line)."""


def get_request(target: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n{auth}\r\n".encode()


def post_request(target: str, body: dict[str, Any], token: str) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


class Connection:
    """One persistent HTTP/1.1 connection, one request at a time: enough for uvicorn's JSON answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send ``raw``; return (status, body). Reopens once the server closed the connection."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if head[:5] != b"HTTP/" or len(head) < 12:
            raise ProtocolError(f"bad status line {head[:40]!r}")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise ProtocolError("answer without Content-Length")
        length = int(lower[at + 17 : lower.index(b"\r\n", at + 2)])
        body = await self.reader.readexactly(length) if length else b""
        if b"\r\nconnection: close" in lower:
            await self.close()
        return status, body


async def call(conn: Connection, raw: bytes) -> tuple[int, bytes]:
    try:
        return await conn.request(raw)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError):
        await conn.close()  # the next request opens a fresh connection
        return 0, b""


def healthz_ok(status: int, body: bytes) -> bool:
    return status == 200


def check_ok(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and isinstance(answer.get("active"), bool)


# -- open loop ----------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    offered: int
    rate_asked: float
    seconds: float
    latencies_ms: list[float]
    errors: int
    server_cpu_s: float
    client_cpu_s: float

    @property
    def done(self) -> int:
        return len(self.latencies_ms) + self.errors

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    def server_ms(self) -> float:
        return 1000 * self.server_cpu_s / max(1, self.done)

    def client_ms(self) -> float:
        return 1000 * self.client_cpu_s / max(1, self.done)

    def line(self) -> str:
        return (
            f"{self.name:<16} {self.rate:6.0f} req/s (asked {self.rate_asked:.0f})  p50 {self.pct(0.5):7.2f}  "
            f"p90 {self.pct(0.9):7.2f}  p99 {self.pct(0.99):7.2f}  max {max(self.latencies_ms, default=0):7.2f} ms  "
            f"n={self.done} errors={self.errors}  server CPU {self.server_ms():.2f} ms/req  "
            f"generator CPU {self.client_ms():.2f} ms/req"
        )

    def row(self) -> str:
        return (
            f"| {self.name} | {self.rate:,.0f} | {self.pct(0.5):.2f} | {self.pct(0.9):.2f} | {self.pct(0.99):.2f} | "
            f"{max(self.latencies_ms, default=0):.2f} | {self.errors} / {self.done} | {self.server_ms():.2f} | "
            f"{self.client_ms():.2f} |"
        )


async def open_loop(
    name: str,
    port: int,
    pid: int,
    requests: Sequence[bytes],
    ok: Callable[[int, bytes], bool],
    *,
    rate: float,
    connections: int,
) -> Phase:
    """Request i is due at ``t0 + i / rate``; a connection takes the next due request as soon as it is
    free (sleeping until it is due), so when all are busy the wait is in the latency."""
    conns = [Connection(port) for _ in range(connections)]
    await asyncio.gather(*(conn.open() for conn in conns))
    loop = asyncio.get_running_loop()
    total = len(requests)
    latencies: list[float] = []
    errors = 0
    next_index = 0
    cpu0, client0 = cpu_seconds(pid), time.process_time()
    t0 = loop.time() + 0.05  # every connection is waiting for its first request by then

    async def worker(conn: Connection) -> None:
        nonlocal next_index, errors
        while next_index < total:
            i = next_index
            next_index += 1
            due = t0 + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            status, body = await call(conn, requests[i])
            if ok(status, body):
                latencies.append(1000 * (loop.time() - due))
            else:
                errors += 1

    budget = total / rate + 60
    try:
        await asyncio.wait_for(asyncio.gather(*(worker(conn) for conn in conns)), timeout=budget)
    except TimeoutError:
        errors = total - len(latencies)  # unanswered requests are errors too
    seconds = loop.time() - t0
    phase = Phase(
        name,
        total,
        rate,
        seconds,
        latencies,
        errors,
        cpu_seconds(pid) - cpu0,
        time.process_time() - client0,
    )
    await asyncio.gather(*(conn.close() for conn in conns))
    return phase


# -- set-up: infrastructure, server, seeding ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def wait_ready(port: int, server: asyncio.subprocess.Process, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.returncode is not None:
            raise RuntimeError(f"consent server exited with {server.returncode}")
        conn = Connection(port)
        status, _ = await call(conn, get_request("/readyz"))
        await conn.close()
        if status == 200:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("consent server not ready in time")


async def seed(port: int, database_url: str, clients: int, concurrency: int, pid: int) -> tuple[list[str], str]:
    """Clients in the intake projection, then 1-3 grants each over HTTP (the ledger append rate)."""
    client_ids = [f"bench-client-{i}-{uuid.uuid4().hex[:6]}" for i in range(clients)]
    db = await asyncpg.connect(database_url)
    try:
        await db.executemany(
            "INSERT INTO clients (client_id, age_band, registered_at) VALUES ($1, 'adult', now())",
            [(c,) for c in client_ids],
        )
    finally:
        await db.close()
    queue = [(c, s) for c in client_ids for s in SCOPES[: 1 + hash(c) % 3]]
    grants = [
        post_request("/consents", {"client_id": c, "scope": s}, issue_token(SECRET, subject=c, role="client"))
        for c, s in queue
    ]
    done = 0

    async def granter() -> None:
        nonlocal done
        conn = Connection(port)
        try:
            while grants:
                status, body = await call(conn, grants.pop())
                if status != 201:
                    raise RuntimeError(f"grant answered {status}: {body[:200]!r}")
                done += 1
        finally:
            await conn.close()

    t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
    await asyncio.gather(*(granter() for _ in range(concurrency)))
    seconds, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    line = (
        f"ledger appends via POST /consents: {done / seconds:.0f}/s ({done} grants, {concurrency} connections, "
        f"server CPU {1000 * cpu / done:.2f} ms/grant)"
    )
    return client_ids, line


async def bench(args: argparse.Namespace, admin_url: str, bootstrap: str) -> str:
    name = f"consent_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    database_url = f"{admin_url.rpartition('/')[0]}/{name}"
    port = free_port()
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
    session = RESULTS / "consent_check_profile.pyisession"
    command = [sys.executable, "-m", "rapport_consent", "serve"]
    if args.profile:
        RESULTS.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "pyinstrument", "-r", "pyisession", "-o", str(session), *command[1:]]
    server = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL)
    pid = server.pid
    try:
        await wait_ready(port, server)
        clients, grant_line = await seed(port, database_url, args.clients, args.grant_concurrency, pid)
        print(grant_line)
        rng = random.Random(1)
        service = issue_token(SECRET, subject="bench", role="service")
        total = int(args.rate * args.duration)
        checks = [
            get_request(f"/consents/check?client_id={rng.choice(clients)}&scope={rng.choice(SCOPES)}", service)
            for _ in range(total)
        ]
        warm = Connection(port)
        for raw in checks[:200] + [get_request("/healthz")] * 200:  # warm-up (imports, pool, plans)
            await call(warm, raw)
        await warm.close()
        load_before = os.getloadavg()
        healthz = await open_loop(
            "/healthz",
            port,
            pid,
            [get_request("/healthz")] * total,
            healthz_ok,
            rate=args.rate,
            connections=args.connections,
        )
        print(healthz.line())
        check = await open_loop(
            "/consents/check", port, pid, checks, check_ok, rate=args.rate, connections=args.connections
        )
        print(check.line())
        ratios = (
            f"check/healthz: p50 {check.pct(0.5) / healthz.pct(0.5):.2f}, "
            f"p99 {check.pct(0.99) / healthz.pct(0.99):.2f}, "
            f"server CPU per request {check.server_ms() / max(healthz.server_ms(), 1e-9):.2f}, "
            f"achieved rate {check.rate / healthz.rate:.2f}"
        )
        print(ratios)
        load_after = os.getloadavg()
    finally:
        if server.returncode is None:
            # SIGINT lets pyinstrument write its report (uvicorn shuts down cleanly on either signal)
            server.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), timeout=120 if args.profile else 30)
            except TimeoutError:
                server.kill()
                await server.wait()
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    report = (
        f"# Consent check benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"`{' '.join(['.venv/bin/python', 'bench/consent/check_latency.py', *sys.argv[1:]])}`: open loop at "
        f"{args.rate:.0f} req/s for {args.duration:g} s over {args.connections} keep-alive connections, "
        f"{args.clients} clients; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"{os.cpu_count()} CPUs.\n\n"
        "| endpoint | achieved req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU ms/req | "
        "generator CPU ms/req |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"{healthz.row()}\n{check.row()}\n\n{ratios}\n\n{grant_line}\n"
    )
    if args.profile:
        report += f"\nServer profile (pyinstrument, whole server run, seeding included): {render_profile(session)}\n"
    return report


def render_profile(session: Path) -> str:
    """The saved pyinstrument session as HTML (to browse) and as text (printed: where the time went)."""
    html, text = session.with_suffix(".html"), session.with_suffix(".txt")
    load = [sys.executable, "-m", "pyinstrument", "--load", str(session)]
    as_text = ["-r", "text", "-p", "color=false", "-p", "unicode=false"]
    subprocess.run([*load, "-r", "html", "-o", str(html)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*load, *as_text, "-o", str(text)], check=True, stdout=subprocess.DEVNULL)
    session.unlink()  # ~100 MB for a default run; the HTML holds the same tree
    print(text.read_text())
    return f"`{html}`, `{text}`"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rate", type=float, default=500.0, help="arrival rate, requests/s")
    parser.add_argument("--connections", type=int, default=32, help="persistent keep-alive connections")
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--grant-concurrency", type=int, default=16, help="connections for seeding grants")
    parser.add_argument("--profile", action="store_true", help="run the server under pyinstrument")
    args = parser.parse_args()
    stack: list[Callable[[], None]] = []
    admin_url = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    tmp = Path(tempfile.mkdtemp(prefix="rapport-bench-consent-"))
    try:
        if not bootstrap:
            from rapport_local.broker import EmbeddedBroker
            from rapport_local.topics import ensure_contract_topics

            broker = EmbeddedBroker(log_path=tmp / "broker.log")
            broker.start_blocking()
            stack.append(broker.stop)
            bootstrap = broker.bootstrap_servers
            asyncio.run(ensure_contract_topics(bootstrap))
        if not admin_url:
            from rapport_local.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(tmp / "pg")
            pg.start()
            stack.append(pg.stop)
            admin_url = pg.url()
        report = asyncio.run(bench(args, admin_url, bootstrap))
    finally:
        for stop in reversed(stack):
            stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "consent_check.md").write_text(report)
    print(f"written to {RESULTS / 'consent_check.md'}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so a killed run still stops its server and drops its DB
    main()
