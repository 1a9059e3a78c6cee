"""Two monitor instances in one consumer group split the partitions; one dying (SIGKILL) loses no alert
and duplicates none. Instance A is a real process (``python -m rapport_alliance_monitor``) so it can die
without leaving the group; instance B runs in-process and takes over A's partitions after the rebalance."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

CLIENTS = 24
WAVES = 4


async def _count(env: Any, sql: str) -> int:
    conn = await env.db()
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


@pytest.mark.slow
async def test_two_instances_split_partitions_and_survive_a_kill(monitor_env, story, alert_topic_reader, kit):
    t0, r = kit.T0, alert_topic_reader
    clinician = kit.unique("clinician")
    stories = [story(clinician_id=clinician) for _ in range(CLIENTS)]
    settings = monitor_env.settings()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_ENABLE_IDEMPOTENCE": str(settings.kafka_enable_idempotence).lower(),
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "JWT_SECRET": kit.SECRET,
        "CONSUMER_GROUP": settings.consumer_group,
        "CONSUME_TOPICS": json.dumps(settings.consume_topics),
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
    }
    a = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rapport_alliance_monitor",
        "serve",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(2.0)  # A migrates and joins first
        async with monitor_env.running() as b:
            consumer = b.app.state.runtime.consumers[0]
            total = 4 * 6

            async def split() -> bool:
                return 0 < len(consumer.assignment) < total

            await monitor_env.wait_until(split, within=30, what="the two instances to split the partitions")
            shared = len(consumer.assignment)

            await monitor_env.onboard(*stories)
            await monitor_env.publish(*(s.ev.started("s1", t0) for s in stories))
            for wave in range(WAVES):
                at = t0 + timedelta(minutes=5 + wave)
                await monitor_env.publish(*(s.ev.pulse(1, session_id="s1", at=at) for s in stories))
                if wave == 1:
                    a.send_signal(signal.SIGKILL)  # mid-stream, without leaving the group
                await asyncio.sleep(0.3)

            async def all_alerts() -> bool:
                return await _count(monitor_env, "SELECT count(*) FROM alerts") >= CLIENTS * WAVES

            await monitor_env.wait_until(all_alerts, within=60, what="every alert after the takeover")
            assert len(consumer.assignment) == total  # B owns everything now
            await asyncio.sleep(2.0)  # outbox drained, stray duplicates would have arrived
            assert await _count(monitor_env, "SELECT count(*) FROM alerts") == CLIENTS * WAVES
            assert await _count(monitor_env, "SELECT count(*) FROM outbox WHERE state = 'pending'") == 0
    finally:
        if a.returncode is None:
            a.kill()
        await a.wait()

    assert 0 < shared < total
    for s in stories:
        raised = r.of(s.client_id, "alert-raised")
        alert_ids = {e.data.alert_id for e in raised}
        assert len(alert_ids) == WAVES, s.client_id
        # at-least-once on the wire: a record re-sent after the kill carries the same event id
        assert len({e.id for e in raised}) == WAVES
