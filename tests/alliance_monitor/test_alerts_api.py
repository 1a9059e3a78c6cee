"""The alerts API and trend: who may read and act on what, and what acknowledging and resolving emit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

WEEK = timedelta(days=7)


async def _raised(env: Any, client_id: str, count: int) -> None:
    async def enough() -> bool:
        conn = await env.db()
        try:
            return await conn.fetchval("SELECT count(*) FROM alerts WHERE client_id = $1", client_id) >= count
        finally:
            await conn.close()

    await env.wait_until(enough, what=f"{count} alerts")


async def _alert_of(env: Any, client_id: str, rule: str) -> str:
    conn = await env.db()
    try:
        return str(
            await conn.fetchval("SELECT alert_id FROM alerts WHERE client_id = $1 AND rule = $2", client_id, rule)
        )
    finally:
        await conn.close()


async def test_authorisation_of_every_endpoint(monitor_env, story, kit):
    t0 = kit.T0
    s = story(supervisor_id=kit.unique("sup"))
    other = story()
    async with monitor_env.running() as m:
        await monitor_env.onboard(s, other)
        await monitor_env.publish(
            s.ev.started("s1", t0),
            s.ev.pulse(1, session_id="s1", at=t0 + timedelta(minutes=5)),  # clinician audience
            s.ev.message(t0, sender="client", flags=["off-platform-contact"]),  # compliance audience
            *(s.ev.message(t0 + timedelta(days=d, hours=12)) for d in range(3)),  # supervisor audience
            s.ev.srs(38.0, session_id="s1", at=t0 + timedelta(minutes=48)),
            s.ev.ors(20.0, session_id="s1", at=t0 + timedelta(minutes=3)),
        )
        await _raised(monitor_env, s.client_id, 3)
        pulse = await _alert_of(monitor_env, s.client_id, "pulse-low")
        compliance_alert = await _alert_of(monitor_env, s.client_id, "off-platform-contact")
        supervisor_alert = await _alert_of(monitor_env, s.client_id, "off-hours-contact")

        own, stranger = kit.auth(s.clinician_id, "clinician"), kit.auth(other.clinician_id, "clinician")
        sup, other_sup = kit.auth(s.supervisor_id, "supervisor"), kit.auth("sup-nobody", "supervisor")
        comp = kit.auth("compliance-1", "compliance")
        http = m.http

        # no token / bad token: 401 everywhere
        for method, path in (
            ("GET", "/alerts"),
            ("GET", f"/alerts/{pulse}"),
            ("POST", f"/alerts/{pulse}/acknowledge"),
            ("POST", f"/alerts/{pulse}/resolve"),
            ("GET", "/alerts/counts"),
            ("GET", f"/clients/{s.client_id}/trend"),
        ):
            assert (await http.request(method, path, json={"note": "x"})).status_code == 401, path
            bad = {"Authorization": "Bearer not-a-token"}
            assert (await http.request(method, path, json={"note": "x"}, headers=bad)).status_code == 401, path
        # roles without alert access: 403
        for role in ("client", "operator", "service"):
            h = kit.auth(s.client_id if role == "client" else "x", role)
            assert (await http.get("/alerts", headers=h)).status_code == 403, role
            assert (await http.get(f"/alerts/{pulse}", headers=h)).status_code == 403, role
            assert (await http.post(f"/alerts/{pulse}/acknowledge", json={}, headers=h)).status_code == 403, role
            assert (await http.get(f"/clients/{s.client_id}/trend", headers=h)).status_code == 403, role

        # list: each caller sees exactly their audience
        def ids(r: Any) -> set[str]:
            assert r.status_code == 200, r.text
            return {a["alert_id"] for a in r.json()["alerts"]}

        assert ids(await http.get("/alerts", headers=own)) == {pulse}
        assert ids(await http.get("/alerts", headers=stranger)) == set()
        assert ids(await http.get("/alerts", headers=sup)) == {supervisor_alert}
        assert ids(await http.get("/alerts", headers=other_sup)) == set()
        assert compliance_alert in ids(await http.get("/alerts", headers=comp))
        assert pulse not in ids(await http.get("/alerts", headers=comp))
        # filters
        assert ids(await http.get("/alerts", params={"rule": "srs-drop"}, headers=own)) == set()
        assert ids(await http.get("/alerts", params={"status": "open", "client_id": s.client_id}, headers=own)) == {
            pulse
        }
        r = await http.get("/alerts", params={"rule": "nonsense", "limit": 0}, headers=own)
        assert r.status_code == 422 and "query.rule" in r.json()["detail"] and "query.limit" in r.json()["detail"]

        # detail with evidence
        r = await http.get(f"/alerts/{pulse}", headers=own)
        assert r.status_code == 200 and r.json()["evidence"] and r.json()["history"][0]["action"] == "raised"
        assert (await http.get(f"/alerts/{pulse}", headers=stranger)).status_code == 403
        assert (await http.get(f"/alerts/{pulse}", headers=sup)).status_code == 403
        assert (await http.get(f"/alerts/{supervisor_alert}", headers=own)).status_code == 403
        assert (await http.get(f"/alerts/{supervisor_alert}", headers=sup)).status_code == 200
        assert (await http.get(f"/alerts/{compliance_alert}", headers=comp)).status_code == 200
        assert (await http.get("/alerts/no-such-alert", headers=own)).status_code == 404

        # acting: only who may see
        assert (await http.post(f"/alerts/{pulse}/acknowledge", json={}, headers=stranger)).status_code == 403
        assert (await http.post(f"/alerts/{pulse}/resolve", json={"note": "x"}, headers=sup)).status_code == 403
        assert (await http.post(f"/alerts/{supervisor_alert}/acknowledge", json={}, headers=own)).status_code == 403

        # operators: counts only
        r = await http.get("/alerts/counts", headers=kit.auth("op", "operator"))
        assert r.status_code == 200 and all(
            set(c) == {"rule", "severity", "status", "count"} for c in r.json()["counts"]
        )
        assert (await http.get("/alerts/counts", headers=own)).status_code == 403

        # trend: clinician of record only
        r = await http.get(f"/clients/{s.client_id}/trend", headers=own)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["srs"]["cutoff"] == 36.0 and [p["total"] for p in body["srs"]["points"]] == [38.0]
        assert body["srs"]["points"][0]["session_number"] == 1
        assert body["ors"]["cutoff"] == 25.0 and body["ors"]["baseline"] == 18.0
        assert body["ors"]["reliable_change_band"] == {"low": 13.0, "high": 23.0}
        assert [p["total"] for p in body["ors"]["points"]] == [20.0]
        assert (await http.get(f"/clients/{s.client_id}/trend", headers=stranger)).status_code == 403
        assert (await http.get(f"/clients/{s.client_id}/trend", headers=sup)).status_code == 403
        assert (await http.get("/clients/nobody/trend", headers=own)).status_code == 403  # see below


async def test_client_reads_do_not_tell_a_stranger_whether_the_client_exists(monitor_env, story, kit):
    """Unknown client and known-but-not-yours get the same answer (status and body); the clinician of record
    of a client with no scores yet still gets the empty trend."""
    known, mine = story(), story()
    async with monitor_env.running() as m:
        await monitor_env.onboard(known, mine)
        stranger = kit.auth(mine.clinician_id, "clinician")
        unknown_id = kit.unique("client")

        not_yours = await m.http.get(f"/clients/{known.client_id}/trend", headers=stranger)
        unknown = await m.http.get(f"/clients/{unknown_id}/trend", headers=stranger)
        assert not_yours.status_code == unknown.status_code == 403, (not_yours.text, unknown.text)
        assert not_yours.json() == unknown.json(), (not_yours.text, unknown.text)
        assert not_yours.json()["detail"].startswith("client_id:")

        # the client's alerts by client id: nothing either way (filtered, never refused or counted)
        for client_id in (known.client_id, unknown_id):
            listed = await m.http.get("/alerts", params={"client_id": client_id}, headers=stranger)
            assert listed.status_code == 200 and listed.json() == {"alerts": []}, listed.text

        # with access and no data: the trend as before, empty series
        own = await m.http.get(f"/clients/{mine.client_id}/trend", headers=kit.auth(mine.clinician_id, "clinician"))
        assert own.status_code == 200, own.text
        assert own.json()["srs"]["points"] == [] and own.json()["ors"]["points"] == []


async def test_acknowledge_and_resolve_emit_events(monitor_env, story, alert_topic_reader, kit):
    t0, r = kit.T0, alert_topic_reader
    s = story()
    async with monitor_env.running() as m:
        await monitor_env.onboard(s)
        await monitor_env.publish(*(s.ev.started(f"s{k}", t0 + k * WEEK) for k in range(1, 5)))
        await monitor_env.wait_for_starts(s.client_id, 4)
        await monitor_env.publish(s.ev.srs(34.0, session_id="s4", at=t0 + 4 * WEEK))  # srs-below-cutoff (condition)
        await _raised(monitor_env, s.client_id, 1)
        alert_id = await _alert_of(monitor_env, s.client_id, "srs-below-cutoff")
        own = kit.auth(s.clinician_id, "clinician")

        r1 = await m.http.post(
            f"/alerts/{alert_id}/acknowledge", json={"note": "Will raise it next session."}, headers=own
        )
        assert r1.status_code == 200 and r1.json()["status"] == "acknowledged"
        assert (await m.http.post(f"/alerts/{alert_id}/acknowledge", json={}, headers=own)).status_code == 409
        bad = await m.http.post(f"/alerts/{alert_id}/resolve", json={}, headers=own)
        assert bad.status_code == 422 and "body.note" in bad.json()["detail"]
        key = {**own, "Idempotency-Key": kit.unique("k")}
        r2 = await m.http.post(f"/alerts/{alert_id}/resolve", json={"note": "Talked it through."}, headers=key)
        assert (
            r2.status_code == 200 and r2.json()["status"] == "resolved" and r2.json()["resolved_by"] == s.clinician_id
        )
        again = await m.http.post(f"/alerts/{alert_id}/resolve", json={"note": "Talked it through."}, headers=key)
        assert again.status_code == 200 and again.json() == r2.json()  # the retry gets the first answer
        assert (await m.http.post(f"/alerts/{alert_id}/resolve", json={"note": "x"}, headers=own)).status_code == 409

        ack = await r.wait_for(s.client_id, 1, "alert-acknowledged")
        res = await r.wait_for(s.client_id, 1, "alert-resolved", settle=0.3)
        assert (ack[0].data.alert_id, ack[0].data.by, ack[0].data.note) == (
            alert_id,
            s.clinician_id,
            "Will raise it next session.",
        )
        assert (res[0].data.alert_id, res[0].data.by, res[0].data.reason) == (
            alert_id,
            s.clinician_id,
            "Talked it through.",
        )
        assert len(r.of(s.client_id, "alert-resolved")) == 1

        detail = (await m.http.get(f"/alerts/{alert_id}", headers=own)).json()
        assert [h["action"] for h in detail["history"]] == ["raised", "acknowledged", "resolved"]

        # resolved by a person: the condition holding again is a new episode with a new alert
        await monitor_env.publish(s.ev.started("s5", t0 + 5 * WEEK))
        await monitor_env.wait_for_starts(s.client_id, 5)
        await monitor_env.publish(s.ev.srs(33.0, session_id="s5", at=t0 + 5 * WEEK))
        raised = await r.wait_for(s.client_id, 2, "alert-raised", settle=0.3)
        assert raised[1].data.rule == "srs-below-cutoff" and raised[1].data.alert_id != alert_id

        # the history is append-only
        conn = await monitor_env.db()
        try:
            for statement in ("UPDATE alert_history SET note = 'x'", "DELETE FROM alert_history"):
                try:
                    await conn.execute(statement)
                except Exception as exc:
                    assert "append-only" in str(exc)
                else:
                    raise AssertionError(f"{statement} was allowed")
        finally:
            await conn.close()
