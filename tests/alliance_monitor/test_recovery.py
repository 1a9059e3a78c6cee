"""Idempotence and recovery: redelivery and replay raise nothing new; state survives a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

WEEK = timedelta(days=7)


async def alert_rows(env: Any, client_id: str) -> list[tuple[str, str, str]]:
    conn = await env.db()
    try:
        rows = await conn.fetch(
            "SELECT alert_id, rule, status FROM alerts WHERE client_id = $1 ORDER BY alert_id", client_id
        )
        return [(r["alert_id"], r["rule"], r["status"]) for r in rows]
    finally:
        await conn.close()


async def test_redelivery_and_replay_raise_nothing_new(monitor_env, story, alert_topic_reader, kit):
    t0, r = kit.T0, alert_topic_reader
    s = story()
    history = [
        *s.onboarding(),
        s.ev.started("s1", t0),
        s.ev.pulse(1, session_id="s1", at=t0 + timedelta(minutes=5)),
        s.ev.srs(30.0, session_id="s1", at=t0 + timedelta(minutes=48)),
    ]
    async with monitor_env.running():
        await monitor_env.publish(*history[:-3])
        await monitor_env.wait_onboarded(s)
        await monitor_env.publish(*history[-3:])
        await r.wait_for(s.client_id, 2, "alert-raised", settle=0.5)
        before = await alert_rows(monitor_env, s.client_id)
        assert sorted(rule for _, rule, _ in before) == ["early-low-alliance", "pulse-low"]
        # the same events delivered again (same ids), as a producer retry would
        await monitor_env.publish(*history[-3:])
        await monitor_env.publish(s.ev.pulse(3, session_id="s1", at=t0 + timedelta(minutes=20)))  # a marker
        await monitor_env.wait_until(lambda: _pulses_analysed(monitor_env, s.client_id), what="the marker")
    # a new consumer group over the same database replays both topics from the beginning
    published = len(history) + 3 + 1
    group = kit.unique("replay")
    async with monitor_env.running(consumer_group=group) as m:
        await monitor_env.wait_until(lambda: _consumed(m, group, published), what="the replay")
        await asyncio.sleep(1.0)  # the last batch's transaction commits
    assert await alert_rows(monitor_env, s.client_id) == before
    assert len(r.of(s.client_id, "alert-raised")) == 2

    # and a replay into an empty database derives exactly the same alert ids (deterministic from rule + anchor)
    fresh = monitor_env.__class__(
        await _fresh_database(monitor_env),
        list(monitor_env.topics.values()),
        monitor_env.bootstrap,
        monitor_env.idempotence,
        monitor_env.producer,
    )
    group = kit.unique("rebuild")
    async with fresh.running(consumer_group=group) as m:
        await fresh.wait_until(lambda: _consumed(m, group, published), what="the rebuild")
        await fresh.wait_until(lambda: _has_alerts(fresh, s.client_id, 2), what="the rebuilt alerts")
        await asyncio.sleep(1.0)
    assert await alert_rows(fresh, s.client_id) == before


async def _pulses_analysed(env: Any, client_id: str) -> bool:
    conn = await env.db()
    try:
        row = await conn.fetchval("SELECT state FROM pair_states WHERE client_id = $1", client_id)
        return row is not None and len(row["recent_event_ids"]) >= 4
    finally:
        await conn.close()


async def _consumed(m: Any, group: str, count: int) -> bool:
    """The group's consumer has read ``count`` records (its consumed-records counter on /metrics)."""
    text = (await m.http.get("/metrics")).text
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("rapport_kafka_records_consumed_total{") and f'group="{group}"' in line
    )
    return total >= count


async def _has_alerts(env: Any, client_id: str, count: int) -> bool:
    return len(await alert_rows(env, client_id)) >= count


async def _fresh_database(env: Any) -> str:
    import asyncpg

    name = "alliance_rebuild_" + env.group.rsplit("-", 1)[1]
    admin = env.database_url.rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return env.database_url.rsplit("/", 1)[0] + "/" + name


async def test_state_continues_after_restart(monitor_env, story, alert_topic_reader, kit):
    t0, r = kit.T0, alert_topic_reader
    s = story()
    async with monitor_env.running():
        await monitor_env.onboard(s)
        await monitor_env.publish(
            s.ev.started("s1", t0 + WEEK),
            s.ev.srs(40.0, session_id="s1", at=t0 + WEEK),
            s.ev.started("s2", t0 + 2 * WEEK),
            s.ev.srs(40.0, session_id="s2", at=t0 + 2 * WEEK),
        )
        await monitor_env.wait_until(lambda: _srs_count(monitor_env, s.client_id, 2), what="two SRS in state")
    assert not r.of(s.client_id)
    # a new process, same group and database: the pair's SRS history comes from PostgreSQL
    async with monitor_env.running():
        await monitor_env.publish(
            s.ev.started("s3", t0 + 3 * WEEK),
            s.ev.srs(40.0, session_id="s3", at=t0 + 3 * WEEK),  # third 40.0 in a row: srs-ceiling
            s.ev.started("s4", t0 + 4 * WEEK),
            s.ev.srs(37.0, session_id="s4", at=t0 + 4 * WEEK),  # 3.0 below the previous: srs-drop, ceiling clears
        )
        await r.wait_for(s.client_id, 1, "alert-resolved", settle=0.5)
    kinds = [(e.type.rsplit(".", 1)[1], getattr(e.data, "rule", None)) for e in r.of(s.client_id)]
    assert kinds == [
        ("alert-raised", "srs-ceiling"),
        ("alert-raised", "srs-drop"),
        ("alert-resolved", None),
    ]


async def _srs_count(env: Any, client_id: str, count: int) -> bool:
    conn = await env.db()
    try:
        state = await conn.fetchval("SELECT state FROM pair_states WHERE client_id = $1", client_id)
        return state is not None and len(state["srs"]) >= count
    finally:
        await conn.close()


async def test_positions_from_another_incarnation_of_the_topics_skip_nothing(
    monitor_env, story, alert_topic_reader, kit
):
    """The embedded broker starts each run with empty topics while PostgreSQL keeps the monitor's stored
    positions: offsets start at 0 again, below the stored ones. Trusted, they would silently skip every new
    record up to them; positions the broker does not confirm (no committed offset, or past the log end) are
    dropped instead."""
    t0, r = kit.T0, alert_topic_reader
    conn = await monitor_env.db()
    try:
        await _migrate(monitor_env)
        await conn.executemany(
            "INSERT INTO consumer_positions (consumer_group, topic, partition, next_offset) VALUES ($1, $2, $3, 5000)",
            [(monitor_env.group, topic, p) for topic in monitor_env.topics.values() for p in range(6)],
        )
    finally:
        await conn.close()
    s = story()
    async with monitor_env.running():
        await monitor_env.onboard(s)
        await monitor_env.publish(s.ev.started("s1", t0), s.ev.pulse(1, session_id="s1", at=t0 + timedelta(minutes=5)))
        raised = await r.wait_for(s.client_id, 1, "alert-raised", within=20, settle=0.5)
    assert [e.data.rule for e in raised] == ["pulse-low"]


async def _migrate(env: Any) -> None:
    from rapport_alliance_monitor.app import SPEC
    from rapport_common.service import migrate

    await migrate(SPEC, env.settings())
