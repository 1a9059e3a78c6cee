"""Consent gates analysis on event time; events that arrive before their consent are held, never dropped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


async def holds(env: Any, client_id: str) -> int:
    conn = await env.db()
    try:
        return int(await conn.fetchval("SELECT count(*) FROM consent_holds WHERE client_id = $1", client_id))
    finally:
        await conn.close()


async def test_event_before_its_consent_is_held_then_analysed(monitor_env, story, alert_topic_reader, kit):
    t0, r = kit.T0, alert_topic_reader
    s = story()
    scopes = tuple(x for x in kit.ANALYSED_SCOPES if x != "measurement-feedback")
    async with monitor_env.running(consent_hold_seconds=30.0) as m:
        await monitor_env.onboard(s, scopes=scopes)
        await monitor_env.publish(s.ev.started("s1", t0), s.ev.pulse(1, session_id="s1", at=t0 + timedelta(minutes=5)))
        await monitor_env.wait_until(lambda: _has_hold(monitor_env, s.client_id), what="the pulse to be held")
        metrics = (await m.http.get("/metrics")).text
        assert "rapport_alliance_consent_holds" in metrics
        assert not r.of(s.client_id)

        # the grant (valid well before the pulse) arrives late on the consent topic: the pulse is analysed now
        await monitor_env.publish(s.ev.grant("measurement-feedback"))
        raised = await r.wait_for(s.client_id, 1, "alert-raised", within=10, settle=0.5)
        assert [e.data.rule for e in raised] == ["pulse-low"]
        assert await holds(monitor_env, s.client_id) == 0


async def _has_hold(env: Any, client_id: str) -> bool:
    return await holds(env, client_id) > 0


async def test_hold_expiry_raises_consent_violation_and_nothing_else(monitor_env, story, alert_topic_reader, kit):
    t0, r = kit.T0, alert_topic_reader
    no_treatment, no_feedback = story(), story()
    async with monitor_env.running(consent_hold_seconds=1.0):
        await monitor_env.onboard(no_treatment, scopes=())
        await monitor_env.publish(no_treatment.ev.started("s1", t0))
        scopes = tuple(x for x in kit.ANALYSED_SCOPES if x != "measurement-feedback")
        await monitor_env.onboard(no_feedback, scopes=scopes)
        await monitor_env.publish(
            no_feedback.ev.started("s1", t0),
            no_feedback.ev.pulse(1, session_id="s1", at=t0 + timedelta(minutes=5)),
            no_feedback.ev.srs(20.0, session_id="s1", at=t0 + timedelta(minutes=48)),
        )

        raised = await r.wait_for(no_treatment.client_id, 1, "alert-raised", settle=1.0)
        assert [(e.data.rule, e.data.audience, e.data.severity) for e in raised] == [
            ("consent-violation", "compliance", "high")
        ]
        assert "telehealth-treatment" in raised[0].data.summary

        raised = await r.wait_for(no_feedback.client_id, 1, "alert-raised", settle=1.5)
        # the low pulse and the low SRS were not covered: no pulse-low, no early-low-alliance, only the violation
        assert [e.data.rule for e in raised] == ["consent-violation"]
        assert "measurement-feedback" in raised[0].data.summary
        assert len(r.of(no_feedback.client_id, "alert-updated")) == 1  # the SRS attaches to the same violation
        assert await holds(monitor_env, no_feedback.client_id) == 0


async def test_consent_is_judged_at_event_time(monitor_env, story, alert_topic_reader, kit):
    """valid_from after the event, and a revocation before it, both leave the event uncovered."""
    t0, r = kit.T0, alert_topic_reader
    s = story()
    scopes = tuple(x for x in kit.ANALYSED_SCOPES if x != "measurement-feedback")
    async with monitor_env.running(consent_hold_seconds=1.0):
        await monitor_env.onboard(s, scopes=scopes)
        await monitor_env.publish(
            s.ev.grant("measurement-feedback", valid_from=t0 + timedelta(hours=1)),
            s.ev.revoke("measurement-feedback", effective_at=t0 + timedelta(hours=3)),
        )
        await monitor_env.publish(
            s.ev.started("s1", t0),
            s.ev.pulse(1, session_id="s1", at=t0 + timedelta(minutes=30)),  # before valid_from: violation
            s.ev.pulse(1, session_id="s1", at=t0 + timedelta(hours=2)),  # covered: pulse-low
            s.ev.pulse(1, session_id="s1", at=t0 + timedelta(hours=4)),  # after the revocation: violation evidence
        )
        raised = await r.wait_for(s.client_id, 2, "alert-raised", settle=2.0)
        assert sorted(e.data.rule for e in raised) == ["consent-violation", "pulse-low"]
        pulse_low = next(e for e in raised if e.data.rule == "pulse-low")
        violation = next(e for e in raised if e.data.rule == "consent-violation")
        assert pulse_low.data.raised_at == t0 + timedelta(hours=2)
        assert violation.data.raised_at == t0 + timedelta(minutes=30)
        updated = r.of(s.client_id, "alert-updated")
        assert [u.data.alert_id for u in updated] == [violation.data.alert_id]


async def test_a_hold_is_not_decided_while_its_grant_sits_unread_behind_a_backlog(
    monitor_env, story, alert_topic_reader, kit
):
    """After an outage the input topics hold a backlog: an event read early is held, and its hold (processing
    time) ends long before the monitor reaches the grant published before it. Deciding then would raise a
    false consent-violation and drop a covered pulse; the hold waits until every partition is read instead."""
    t0, r = kit.T0, alert_topic_reader
    s = story()
    scopes = tuple(x for x in kit.ANALYSED_SCOPES if x != "measurement-feedback")
    async with monitor_env.running(consent_hold_seconds=0.2):
        await monitor_env.onboard(s, scopes=scopes)
    # while the monitor is down: other clients' grants fill the consent topic, then this client's grant, then
    # its session and the low pulse (on other topics, so they are read at once when the monitor is back)
    filler = [story().ev.grant("measurement-feedback") for _ in range(12_000)]
    await monitor_env.publish(*filler, s.ev.grant("measurement-feedback"))
    await monitor_env.publish(s.ev.started("s1", t0), s.ev.pulse(1, session_id="s1", at=t0 + timedelta(minutes=5)))
    async with monitor_env.running(consent_hold_seconds=0.2):
        raised = await r.wait_for(s.client_id, 1, "alert-raised", within=60, settle=1.0)
        assert [e.data.rule for e in raised] == ["pulse-low"]
        assert await holds(monitor_env, s.client_id) == 0
