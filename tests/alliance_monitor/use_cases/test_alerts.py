"""The alert use cases without HTTP, over a unit of work on a real PostgreSQL with a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from rapport_alliance_monitor.domain import PairState, Raise
from rapport_alliance_monitor.store import alerts, states
from rapport_alliance_monitor.use_cases import alerts as use_cases
from rapport_alliance_monitor.use_cases.alerts import AlertQuery
from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_common.clock import ManualClock
from rapport_common.refusal import Refusal

RAISED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOW = RAISED_AT + timedelta(hours=3)
K1 = Principal("k1", "clinician")
RAISE = Raise(
    alert_id="a1",
    rule="srs-drop",
    kind="per-event",
    category="alliance",
    severity="medium",
    audience="clinician",
    live=False,
    client_id="c1",
    clinician_id="k1",
    session_id="s1",
    summary="SRS dropped",
    evidence=("e1",),
    at=RAISED_AT,
)


@pytest.fixture
async def transactions(monitor_pool: asyncpg.Pool) -> Transactions:
    """One raised alert, open in its pair, and units of work whose ``now`` is NOW."""
    async with monitor_pool.acquire() as conn, conn.transaction():
        await alerts.insert_raised(conn, RAISE)
        await states.save_pairs(conn, [PairState(client_id="c1", clinician_id="k1").with_decisions([RAISE])])
    return Transactions(monitor_pool, ManualClock(NOW))


async def _outbox_types(pool: asyncpg.Pool) -> list[str]:
    return [row["event_type"] for row in await pool.fetch("SELECT event_type FROM outbox ORDER BY id")]


async def test_acknowledge_records_the_clock_s_now_a_history_row_and_one_event(transactions: Transactions) -> None:
    async with transactions.begin() as uow:
        outcome = await use_cases.acknowledge(uow, principal=K1, alert_id="a1", note="seen")
    assert outcome.status_code == 200
    assert outcome.body["status"] == "acknowledged" and outcome.body["acknowledged_by"] == "k1"
    assert datetime.fromisoformat(outcome.body["acknowledged_at"]) == NOW
    history = await alerts.history(transactions.pool, "a1")
    assert [(h["action"], h["by"], h["at"], h["note"]) for h in history] == [("acknowledged", "k1", NOW, "seen")]
    assert await _outbox_types(transactions.pool) == ["rapport.alliance.alert-acknowledged"]


async def test_acting_twice_or_after_resolution_is_a_conflict(transactions: Transactions) -> None:
    async with transactions.begin() as uow:
        await use_cases.acknowledge(uow, principal=K1, alert_id="a1", note=None)
    with pytest.raises(Refusal) as again:
        async with transactions.begin() as uow:
            await use_cases.acknowledge(uow, principal=K1, alert_id="a1", note=None)
    assert (again.value.status, again.value.field, again.value.message) == (
        409,
        "alert_id",
        "the alert is already acknowledged",
    )
    async with transactions.begin() as uow:
        await use_cases.resolve(uow, principal=K1, alert_id="a1", note="talked it through")
    for act in (use_cases.acknowledge, use_cases.resolve):
        with pytest.raises(Refusal) as resolved:
            async with transactions.begin() as uow:
                await act(uow, principal=K1, alert_id="a1", note="again")
        assert (resolved.value.status, resolved.value.message) == (409, "the alert is already resolved")


async def test_resolve_makes_the_pair_forget_the_alert(transactions: Transactions) -> None:
    async with transactions.begin() as uow:
        outcome = await use_cases.resolve(uow, principal=K1, alert_id="a1", note="talked it through")
    assert outcome.body["status"] == "resolved" and outcome.body["resolution"] == "talked it through"
    pair = (await states.load_pairs(transactions.pool, [("c1", "k1")]))[("c1", "k1")]
    assert pair.open_alerts == ()
    assert await _outbox_types(transactions.pool) == ["rapport.alliance.alert-resolved"]


@pytest.mark.parametrize(
    ("principal", "alert_id", "status"),
    [
        (Principal("k2", "clinician"), "a1", 403),
        (Principal("s1", "supervisor"), "a1", 403),
        (K1, "no-such-alert", 404),
    ],
)
async def test_an_alert_not_addressed_to_the_caller_is_refused_and_nothing_changes(
    transactions: Transactions, principal: Principal, alert_id: str, status: int
) -> None:
    for act in (use_cases.acknowledge, use_cases.resolve):
        with pytest.raises(Refusal) as refused:
            async with transactions.begin() as uow:
                await act(uow, principal=principal, alert_id=alert_id, note="n")
        assert (refused.value.status, refused.value.field) == (status, "alert_id")
    assert await alerts.history(transactions.pool, "a1") == []
    assert await _outbox_types(transactions.pool) == []


async def test_search_answers_what_the_caller_may_see_and_refuses_naive_times(transactions: Transactions) -> None:
    async with transactions.begin() as uow:
        assert [a.alert_id for a in await use_cases.search(uow, principal=K1, query=AlertQuery())] == ["a1"]
        assert await use_cases.search(uow, principal=Principal("k2", "clinician"), query=AlertQuery()) == []
        assert await use_cases.search(uow, principal=Principal("o1", "operator"), query=AlertQuery()) == []
        with pytest.raises(Refusal) as naive:
            await use_cases.search(uow, principal=K1, query=AlertQuery(until=datetime(2026, 3, 2, 9, 30)))
    assert (naive.value.status, naive.value.field) == (422, "query.until")


def test_an_action_s_idempotency_key_is_scoped_to_the_caller_and_the_alert() -> None:
    scope = use_cases.AlertIdempotency("alert-resolve", K1, "key-1", {"note": "n"}, alert_id="a1").scope
    assert scope == "alert-resolve:clinician:k1:a1"  # the value stored keys had before use cases
