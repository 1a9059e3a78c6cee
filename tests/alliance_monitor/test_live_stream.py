"""SSE: live alerts reach the clinician's open stream within a second, only their own, from any instance,
and a reconnect with Last-Event-ID loses nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import jwt

from rapport_common.auth import issue_token


async def test_stream_delivers_own_alerts_live_and_resumes(monitor_env, story, kit, make_topics):
    a, b = story(), story()
    [idle] = await make_topics(["idle"])
    async with monitor_env.running() as m1, monitor_env.running(consume_topics=[idle]) as m2:
        await monitor_env.onboard(a, b)
        now = datetime.now(UTC)
        await monitor_env.publish(a.ev.started("s1", now), b.ev.started("s1", now))
        async with (
            kit.SseReader(m1.url, kit.auth(a.clinician_id, "clinician")) as a_on_1,
            kit.SseReader(m2.url, kit.auth(a.clinician_id, "clinician")) as a_on_2,
            kit.SseReader(m1.url, kit.auth(b.clinician_id, "clinician")) as b_on_1,
        ):
            published = asyncio.get_running_loop().time()
            await monitor_env.publish(a.ev.pulse(1, session_id="s1", at=datetime.now(UTC)))
            [first] = await a_on_1.wait_for(1, within=5)
            assert first.received - published < 1.0, f"took {first.received - published:.3f}s"
            # instance 2 consumes nothing (idle topic), yet its stream gets the alert instance 1 stored
            [on_2] = await a_on_2.wait_for(1, within=5)
            assert on_2.id == first.id
            assert first.event == "alert-raised"
            assert first.data["alert"]["rule"] == "pulse-low"
            assert first.data["alert"]["client_id"] == a.client_id
            await asyncio.sleep(1.5)
            assert b_on_1.events == []  # clinician B never sees A's alert
            assert b_on_1.comments >= 2  # connected + heartbeat(s)

        # two more alerts while A is disconnected; a reconnect with Last-Event-ID gets exactly those
        await monitor_env.publish(
            a.ev.pulse(2, session_id="s1", at=datetime.now(UTC)),
            a.ev.pulse(1, session_id="s1", at=datetime.now(UTC) + timedelta(seconds=1)),
        )
        await monitor_env.wait_until(lambda: _alerts(monitor_env, a.client_id, 3), what="two more alerts")
        headers = {**kit.auth(a.clinician_id, "clinician"), "Last-Event-ID": first.id}
        async with kit.SseReader(m2.url, headers) as resumed:
            events = await resumed.wait_for(2, within=5)
            await asyncio.sleep(0.5)
            assert len(resumed.events) == 2
            assert all(int(e.id) > int(first.id) for e in events)
            assert {e.data["alert"]["client_id"] for e in events} == {a.client_id}


async def _alerts(env, client_id: str, count: int) -> bool:
    conn = await env.db()
    try:
        return await conn.fetchval("SELECT count(*) FROM alerts WHERE client_id = $1", client_id) >= count
    finally:
        await conn.close()


async def test_stream_routes_by_audience(monitor_env, story, kit):
    """Supervisor streams get their team's supervisor alerts, compliance gets compliance alerts."""
    s = story(supervisor_id=kit.unique("sup"))
    other_supervisor = kit.unique("sup")
    t0 = kit.T0
    async with monitor_env.running() as m:
        await monitor_env.onboard(s)
        await asyncio.sleep(1.0)
        async with (
            kit.SseReader(m.url, kit.auth(s.supervisor_id, "supervisor")) as sup,
            kit.SseReader(m.url, kit.auth(other_supervisor, "supervisor")) as other,
            kit.SseReader(m.url, kit.auth("compliance-1", "compliance")) as comp,
            kit.SseReader(m.url, kit.auth(s.clinician_id, "clinician")) as clin,
        ):
            for day in (0, 1, 2):  # three off-hours messages: off-hours-contact (supervisor)
                await monitor_env.publish(s.ev.message(t0 + timedelta(days=day, hours=12)))
            await monitor_env.publish(s.ev.message(t0, sender="client", flags=["payment-request"]))  # compliance
            await sup.wait_for(1)
            await comp.wait_for(1)
            await asyncio.sleep(1.0)
            assert [a["rule"] for a in sup.alerts()] == ["off-hours-contact"]
            assert [a["rule"] for a in comp.alerts()] == ["off-platform-contact"]
            assert other.events == [] and clin.events == []


async def test_stream_requires_a_token_and_an_alert_role(monitor_env, kit):
    async with monitor_env.running() as m:
        assert (await m.http.get("/alerts/stream")).status_code == 401
        for role in ("client", "operator", "service"):
            r = await m.http.get("/alerts/stream", headers=kit.auth("x", role))
            assert r.status_code == 403, role
        bad = {**kit.auth("c", "clinician"), "Last-Event-ID": "abc"}
        r = await m.http.get("/alerts/stream", headers=bad)
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]


async def test_stream_ends_when_its_token_expires(monitor_env, kit):
    """A stream lives no longer than its bearer token: at ``exp`` it sends ``token-expired`` and closes, so
    the client must reconnect with a fresh token (the heartbeat is 1 s here, so a stream left open shows)."""
    async with monitor_env.running() as m:
        token = issue_token(kit.SECRET, subject=kit.unique("clinician"), role="clinician", ttl_s=2)
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        async with kit.SseReader(m.url, {"Authorization": f"Bearer {token}"}) as reader:
            assert reader.status == 200
            [event] = await reader.wait_for(1, within=exp - time.time() + 4)
            at = time.time()
            assert event.event == "token-expired", event
            assert event.data["reason"] == "token-expired" and event.data["exp"] == exp
            assert exp - 0.2 <= at <= exp + 3, f"ended {at - exp:+.2f}s after exp"
            deadline = asyncio.get_running_loop().time() + 2
            while reader.ended is None:
                assert asyncio.get_running_loop().time() < deadline, "the stream stayed open after token-expired"
                await asyncio.sleep(0.02)
            assert reader.ended - event.received < 1.0
        # the same token cannot open a new stream
        async with kit.SseReader(m.url, {"Authorization": f"Bearer {token}"}) as again:
            assert again.status == 401
