"""States kept in memory between transactions (real PostgreSQL): a row is re-read exactly when another
writer changed it, written rows enter the cache only after commit, and each kind is bounded."""

from __future__ import annotations

import asyncpg

from rapport_alliance_monitor.analysis import Analysis
from rapport_alliance_monitor.domain import ClientState, PairState
from rapport_alliance_monitor.domain.config import load_rules_config
from rapport_alliance_monitor.store import states
from rapport_alliance_monitor.store.state_cache import StateCache
from rapport_alliance_monitor.store.states import Versioned


async def test_a_row_at_the_version_held_is_not_read_again_and_a_changed_one_is(monitor_pool: asyncpg.Pool) -> None:
    async with monitor_pool.acquire() as conn:
        written = await states.save_pairs(conn, [PairState(client_id="c1", clinician_id="k1")])
        held = written[("c1", "k1")]
        # a stand-in object with the current version: returned as is, so the document was not parsed again
        stand_in = Versioned(PairState(client_id="c1", clinician_id="k1", recent_event_ids=("marker",)), held.version)
        again = await states.load_pairs_versioned(conn, [("c1", "k1")], {("c1", "k1"): stand_in})
        assert again[("c1", "k1")] is stand_in
        # another writer (the alert API closing an alert, another instance) stamps a new version
        changed = PairState(client_id="c1", clinician_id="k1", recent_event_ids=("e1",))
        newer = (await states.save_pairs(conn, [changed]))[("c1", "k1")]
        assert newer.version != held.version
        fresh = await states.load_pairs_versioned(conn, [("c1", "k1")], {("c1", "k1"): stand_in})
        assert fresh[("c1", "k1")].state == changed
        assert fresh[("c1", "k1")].version == newer.version


async def test_every_kind_stamps_a_new_version_on_each_save(monitor_pool: asyncpg.Pool) -> None:
    async with monitor_pool.acquire() as conn:
        first = await states.save_clients(conn, [ClientState(client_id="c1")])
        second = await states.save_clients(conn, [ClientState(client_id="c1", timezone="Europe/Oslo")])
        assert second["c1"].version > first["c1"].version
        loaded = await states.load_clients_versioned(conn, ["c1", "nobody"], {})
        assert set(loaded) == {"c1"}
        assert loaded["c1"].state.timezone == "Europe/Oslo"
        assert loaded["c1"].version == second["c1"].version


async def test_analysis_sees_a_change_made_by_another_writer_since_it_cached_the_row(
    monitor_pool: asyncpg.Pool,
) -> None:
    cache = StateCache(100)
    config = load_rules_config()
    async with monitor_pool.acquire() as conn:
        await states.save_pairs(conn, [PairState(client_id="c1", clinician_id="k1")])
        async with conn.transaction():
            analysis = Analysis(conn, config, hold_seconds=1.0, cache=cache)
            assert await analysis.load_pair("c1", "k1") == PairState(client_id="c1", clinician_id="k1")
        assert ("c1", "k1") in cache.pairs.entries
        await states.save_pairs(conn, [PairState(client_id="c1", clinician_id="k1", recent_event_ids=("x",))])
        async with conn.transaction():
            analysis = Analysis(conn, config, hold_seconds=1.0, cache=cache)
            pair = await analysis.load_pair("c1", "k1")
        assert pair is not None and pair.recent_event_ids == ("x",)


async def test_written_rows_enter_the_cache_only_after_commit(monitor_pool: asyncpg.Pool) -> None:
    cache = StateCache(100)
    config = load_rules_config()

    class Crash(Exception):
        pass

    async with monitor_pool.acquire() as conn:
        try:
            async with conn.transaction():
                analysis = Analysis(conn, config, hold_seconds=1.0, cache=cache)
                await analysis.load_pair("c2", "k2")
                analysis.replace_pair(PairState(client_id="c2", clinician_id="k2", recent_event_ids=("lost",)))
                stored = await analysis.finish()
                raise Crash
        except Crash:
            pass
        assert ("c2", "k2") not in cache.pairs.entries
        async with conn.transaction():
            analysis = Analysis(conn, config, hold_seconds=1.0, cache=cache)
            assert await analysis.load_pair("c2", "k2") is None  # the rolled-back write is nowhere
            analysis.replace_pair(PairState(client_id="c2", clinician_id="k2", recent_event_ids=("kept",)))
            stored = await analysis.finish()
        stored.remember_in(cache)
        held = cache.pairs.entries[("c2", "k2")]
        assert held.state.recent_event_ids == ("kept",)
        assert held.version == await conn.fetchval(
            "SELECT version FROM pair_states WHERE client_id = 'c2' AND clinician_id = 'k2'"
        )


def test_each_kind_keeps_at_most_its_limit_dropping_the_oldest_written() -> None:
    cache = StateCache(2)
    for i in range(3):
        cache.clients.remember({f"c{i}": Versioned(ClientState(client_id=f"c{i}"), i)})
    assert list(cache.clients.entries) == ["c1", "c2"]
    cache.clients.remember({"c1": Versioned(ClientState(client_id="c1"), 7)})  # written again: newest now
    cache.clients.remember({"c3": Versioned(ClientState(client_id="c3"), 8)})
    assert list(cache.clients.entries) == ["c1", "c3"]
    assert cache.clients.known(["c1", "c2"]) == {"c1": Versioned(ClientState(client_id="c1"), 7)}
    assert len(StateCache(0).pairs.known([("a", "b")])) == 0
