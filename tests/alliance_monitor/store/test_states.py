"""State documents through PostgreSQL as JSON text (real PostgreSQL): round trip, upsert, missing rows."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from rapport_alliance_monitor.domain import ClientState, ClinicianState, PairState
from rapport_alliance_monitor.domain.consent_timeline import ConsentTimeline
from rapport_alliance_monitor.store import states

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def test_each_kind_round_trips_and_an_upsert_replaces_the_document(monitor_pool: asyncpg.Pool) -> None:
    client = ClientState(
        client_id="c1",
        timezone="Europe/Oslo",
        clinician_id="k1",
        assigned_at=AT,
        consents=ConsentTimeline().with_grant("g1", "alliance-analytics", AT, None),
    )
    clinician = ClinicianState(clinician_id="k1", timezone="Europe/Oslo", supervisor_id="s1", registered_at=AT)
    pair = PairState(client_id="c1", clinician_id="k1", recent_event_ids=("e1", "e2"))
    async with monitor_pool.acquire() as conn, conn.transaction():
        await states.save_clients(conn, [client])
        await states.save_clinicians(conn, [clinician])
        await states.save_pairs(conn, [pair, PairState(client_id="c2", clinician_id="k1")])
        assert await states.load_clients(conn, ["c1", "nobody"]) == {"c1": client}
        assert await states.load_clinicians(conn, ["k1"]) == {"k1": clinician}
        assert await states.load_pairs(conn, [("c1", "k1"), ("c1", "k2")]) == {("c1", "k1"): pair}

        moved = client.model_copy(update={"clinician_id": "k2"})
        await states.save_clients(conn, [moved])
        assert await states.load_clients(conn, ["c1"]) == {"c1": moved}
        # the copied-out columns other queries join on follow the document
        assert await conn.fetchval("SELECT clinician_id FROM client_states WHERE client_id = 'c1'") == "k2"
        assert await conn.fetchval("SELECT supervisor_id FROM clinician_states WHERE clinician_id = 'k1'") == "s1"
        # and the document is jsonb other readers (tests, operators) can query
        assert (
            await conn.fetchval("SELECT state->>'timezone' FROM client_states WHERE client_id = 'c1'") == "Europe/Oslo"
        )


async def test_a_clinician_read_again_after_a_new_registration_is_the_new_document(monitor_pool: asyncpg.Pool) -> None:
    """Clinician parses are remembered by document text: a changed document is never answered from memory."""
    first = ClinicianState(clinician_id="k9", timezone="Europe/Oslo", registered_at=AT)
    second = first.model_copy(update={"timezone": "America/Chicago", "supervisor_id": "s2"})
    async with monitor_pool.acquire() as conn, conn.transaction():
        await states.save_clinicians(conn, [first])
        assert (await states.load_clinicians(conn, ["k9"]))["k9"] == first
        assert (await states.load_clinicians(conn, ["k9"]))["k9"] is (await states.load_clinicians(conn, ["k9"]))["k9"]
        await states.save_clinicians(conn, [second])
        assert (await states.load_clinicians(conn, ["k9"]))["k9"] == second
