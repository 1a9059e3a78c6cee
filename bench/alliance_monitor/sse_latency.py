"""Live-alert latency: publish a low pulse, time until its alert arrives on the clinician's SSE stream.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/alliance_monitor/sse_latency.py [pulses=50]

Runs one monitor in-process (uvicorn on a free port, fresh database and input topics), one SSE client on
the clinician's stream, and publishes ``pulses`` pulse-submitted events with score 1, one at a time (100 ms
apart, no background load). Latency = from just before the producer's send to the SSE event parsed by the
client: broker -> consumer -> engine -> PostgreSQL commit -> NOTIFY -> hub -> stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn

from rapport_alliance_monitor.app import build_app
from rapport_alliance_monitor.settings import DEFAULT_TOPICS, AllianceMonitorSettings
from rapport_common.auth import issue_token
from rapport_common.events import encode_event
from rapport_common.events.codec import KafkaRecord
from rapport_common.events.consent import ConsentGranted
from rapport_common.events.examples import example_event
from rapport_common.events.feedback import PulseSubmitted
from rapport_common.events.intake import ClinicianAssigned, ClinicianRegistered
from rapport_common.events.session import SessionStarted
from rapport_common.kafka.producer import EventProducer
from rapport_local.postgres import ensure_database
from rapport_local.topics import ensure_topics

SECRET = "bench-secret-bench-secret-bench-secret!"


async def main(pulses: int) -> None:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    admin_url = os.environ["DATABASE_URL"]
    run = uuid.uuid4().hex[:8]
    database = f"alliance_bench_{run}"
    await ensure_database(admin_url, database)
    topics = {t: f"bench{run}.{t}" for t in DEFAULT_TOPICS}
    await ensure_topics(bootstrap, list(topics.values()), partitions=6)
    settings = AllianceMonitorSettings(
        database_url=admin_url.rsplit("/", 1)[0] + "/" + database,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        kafka_fetch_max_wait_ms=10,
        kafka_session_timeout_ms=6000,
        jwt_secret=SECRET,
        consumer_group=f"bench-{run}",
        consume_topics=list(topics.values()),
        log_level="WARNING",
    )
    client, clinician = f"client-{run}", f"clinician-{run}"
    now = datetime.now(UTC)
    setup = [
        example_event(ClinicianRegistered, subject=clinician, time=now - timedelta(days=30)),
        example_event(ClinicianAssigned, subject=client, clinician_id=clinician),
        *(
            example_event(
                ConsentGranted, subject=client, consent_id=f"c-{scope}", scope=scope, time=now - timedelta(days=1)
            )
            for scope in ("telehealth-treatment", "measurement-feedback")
        ),
        example_event(SessionStarted, subject=client, clinician_id=clinician, session_id="s1", time=now),
    ]
    producer = EventProducer(bootstrap, enable_idempotence=False)
    await producer.start()

    async def publish(event: object) -> None:
        record = encode_event(event)  # type: ignore[arg-type]
        assert all(
            await producer.publish([KafkaRecord(topics[record.topic], record.key, record.value, record.headers)])
        )

    app = build_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=1)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/alerts/stream"
    arrived: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    async def read_stream() -> None:
        headers = {"Authorization": f"Bearer {issue_token(SECRET, subject=clinician, role='clinician')}"}
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http,
            http.stream("GET", url, headers=headers) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    alert = json.loads(line[6:])["alert"]
                    arrived[alert["evidence"][0]] = loop.time()

    reader = asyncio.create_task(read_stream())
    for event in setup:
        await publish(event)
    await asyncio.sleep(5.0)  # consumer joined and the setup analysed
    latencies = []
    for n in range(pulses):
        pulse = example_event(
            PulseSubmitted,
            subject=client,
            clinician_id=clinician,
            session_id="s1",
            response_id=f"p-{n}",
            score=1,
            time=datetime.now(UTC),
        )
        sent = loop.time()
        await publish(pulse)
        while pulse.id not in arrived and loop.time() - sent < 5:
            await asyncio.sleep(0.001)
        if pulse.id in arrived:
            latencies.append((arrived[pulse.id] - sent) * 1000)
        await asyncio.sleep(0.1)
    reader.cancel()
    server.should_exit = True
    await serving
    await producer.stop()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(
        f"pulses={pulses} delivered={len(latencies)} "
        f"p50={statistics.median(latencies):.1f}ms p95={q[94]:.1f}ms max={latencies[-1]:.1f}ms min={latencies[0]:.1f}ms"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
