"""Tamper evidence, against the running suite's databases as their superuser.

Consent ledger: rewrites are refused by triggers even for the superuser; a superuser who switches triggers off
(``session_replication_role = replica``) can edit or delete an entry, and ``GET /compliance/ledger/verify``
then names the first broken entry. Each tampering is undone afterwards, and verify is clean again.

Alliance-monitor: ``alert_history`` refuses UPDATE, DELETE and TRUNCATE (also for the superuser).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from soak.world import live_session, make_team, onboard, wait_for_alert, wait_known


@pytest.fixture(scope="module")
async def history(suite: Any) -> dict[str, Any]:
    """A client with consents granted and one revoked (ledger entries), and one alert with its history."""
    api = suite.api
    team = await make_team(api, 1)
    pair = await onboard(api, team, team.clinicians[0])
    await wait_known(api, pair)
    consent_id = await api.grant(pair.client, "research")
    await api.call(
        "consent", "POST", f"/consents/{consent_id}/revoke", as_=("client", pair.client), json={"reason": "changed"}
    )
    session_id = await live_session(api, pair)
    await api.pulse(session_id, pair.client, 1)
    alerts = await wait_for_alert(api, "clinician", pair.clinician, rule="pulse-low", client_id=pair.client)
    return {"pair": pair, "alert_id": alerts[0]["alert_id"]}


async def _verify(suite: Any) -> dict[str, Any]:
    response = await suite.api.call("consent", "GET", "/compliance/ledger/verify", as_=("compliance", "auditor-tamper"))
    return dict(response.json())


async def _superuser(suite: Any, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(suite.database_urls[service])


async def test_the_ledger_refuses_rewrites_even_from_the_superuser(suite: Any, history: dict[str, Any]) -> None:
    conn = await _superuser(suite, "consent")
    try:
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        for statement in (
            "UPDATE ledger_entries SET reason = 'edited' WHERE seq = 1",
            "DELETE FROM ledger_entries WHERE seq = 1",
            "TRUNCATE ledger_entries",
            "UPDATE consents SET scope = 'research' WHERE true",
            "DELETE FROM consent_revocations",
        ):
            with pytest.raises(asyncpg.PostgresError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.close()
    assert (await _verify(suite))["ok"] is True


async def _entry(conn: asyncpg.Connection, client: str, action_like: str = "%") -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM ledger_entries WHERE client_id = $1 AND action LIKE $2 ORDER BY seq LIMIT 1", client, action_like
    )
    assert row is not None
    return row


async def test_an_edited_entry_is_named_by_verify(suite: Any, history: dict[str, Any]) -> None:
    before = await _verify(suite)
    assert before["ok"] is True and before["checked"] >= 3
    conn = await _superuser(suite, "consent")
    try:
        row = await _entry(conn, history["pair"].client)
        await conn.execute("SET session_replication_role = replica")  # the superuser switches triggers off
        await conn.execute("UPDATE ledger_entries SET actor_id = 'someone-else' WHERE seq = $1", row["seq"])
        after = await _verify(suite)
        assert after["ok"] is False
        assert after["first_broken"] == {"seq": row["seq"], "entry_id": row["entry_id"], "reason": "hash-mismatch"}
        await conn.execute("UPDATE ledger_entries SET actor_id = $2 WHERE seq = $1", row["seq"], row["actor_id"])
    finally:
        await conn.close()
    assert (await _verify(suite))["ok"] is True


async def test_a_deleted_entry_is_named_by_verify(suite: Any, history: dict[str, Any]) -> None:
    conn = await _superuser(suite, "consent")
    try:
        row = await _entry(conn, history["pair"].client)
        following = await conn.fetchrow("SELECT * FROM ledger_entries WHERE seq > $1 ORDER BY seq LIMIT 1", row["seq"])
        assert following is not None
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("DELETE FROM ledger_entries WHERE seq = $1", row["seq"])
        after = await _verify(suite)
        assert after["ok"] is False
        assert after["first_broken"]["seq"] == following["seq"]
        assert after["first_broken"]["reason"] in ("prev-hash-mismatch", "sequence-gap")
        columns = list(row.keys())
        placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
        await conn.execute(f"INSERT INTO ledger_entries ({', '.join(columns)}) VALUES ({placeholders})", *row.values())
    finally:
        await conn.close()
    assert (await _verify(suite))["ok"] is True


async def test_alert_history_is_append_only(suite: Any, history: dict[str, Any]) -> None:
    conn = await _superuser(suite, "alliance-monitor")
    try:
        rows = await conn.fetch("SELECT * FROM alert_history WHERE alert_id = $1", history["alert_id"])
        assert [row["action"] for row in rows] == ["raised"]
        for statement in (
            "UPDATE alert_history SET note = 'rewritten' WHERE alert_id = $1",
            "DELETE FROM alert_history WHERE alert_id = $1",
        ):
            with pytest.raises(asyncpg.PostgresError, match="append-only"):
                await conn.execute(statement, history["alert_id"])
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("TRUNCATE alert_history CASCADE")
        assert await conn.fetch("SELECT * FROM alert_history WHERE alert_id = $1", history["alert_id"]) == rows
    finally:
        await conn.close()
    # acknowledging appends a row; the raised row stays as it was
    pair = history["pair"]
    await suite.api.call(
        "alliance-monitor",
        "POST",
        f"/alerts/{history['alert_id']}/acknowledge",
        as_=("clinician", pair.clinician),
        json={"note": "talked about it"},
    )
    await asyncio.sleep(0)
    conn = await _superuser(suite, "alliance-monitor")
    try:
        after = await conn.fetch("SELECT * FROM alert_history WHERE alert_id = $1 ORDER BY id", history["alert_id"])
    finally:
        await conn.close()
    assert [row["action"] for row in after] == ["raised", "acknowledged"]
    assert after[0] == rows[0]
