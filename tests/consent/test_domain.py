"""Pure rules: consent state at a time, the hash chain and its canonical serialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from rapport_common.auth import Principal
from rapport_consent.domain.consent import Actor, ConsentFacts, Refusal, check_consenter, grant_parties, state_at
from rapport_consent.domain.ledger import GENESIS_HASH, ChainWalk, canonical_json, entry_hash

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("facts", "at", "state"),
    [
        (ConsentFacts(T0, None), T0 - timedelta(microseconds=1), "pending"),
        (ConsentFacts(T0, None), T0, "active"),
        (ConsentFacts(T0, T0 + timedelta(hours=1)), T0 + timedelta(hours=1), "expired"),
        (ConsentFacts(T0, T0 + timedelta(hours=1)), T0 + timedelta(minutes=59), "active"),
        (ConsentFacts(T0, None, T0 + timedelta(minutes=5)), T0 + timedelta(minutes=5), "revoked"),
        (ConsentFacts(T0, None, T0 + timedelta(minutes=5)), T0 + timedelta(minutes=4), "active"),
        (ConsentFacts(T0, None, T0 - timedelta(minutes=5)), T0, "revoked"),
    ],
)
def test_state_at(facts: ConsentFacts, at: datetime, state: str) -> None:
    assert state_at(facts, at) == state


def chain(n: int) -> list[dict]:
    entries, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        entry = {"seq": seq, "entry_id": f"e{seq}", "at": T0 + timedelta(seconds=seq), "actor_id": "a",
                 "actor_role": "client", "action": "consent.granted", "client_id": "c", "scope": "research",
                 "consent_id": f"k{seq}", "channel": "e-signature", "reason": None, "request_id": None,
                 "details": {"n": seq}, "prev_hash": prev}  # fmt: skip
        entry["hash"] = prev = entry_hash(entry)
        entries.append(entry)
    return entries


def test_an_intact_chain_verifies() -> None:
    walk = ChainWalk()
    assert walk.feed(chain(5))
    assert walk.checked == 5 and walk.broken is None


@pytest.mark.parametrize(
    ("damage", "seq", "reason"),
    [
        (lambda es: es[2].update(reason="edited"), 3, "hash-mismatch"),
        (lambda es: es.pop(2), 4, "sequence-gap"),
        (lambda es: es.__setitem__(slice(1, 3), [es[2], es[1]]), 3, "sequence-gap"),
        (lambda es: es[1].update(details={"n": 99}, hash=entry_hash(es[1] | {"details": {"n": 99}})), 3,
         "prev-hash-mismatch"),
    ],
    ids=["edited", "deleted", "reordered", "edited-and-rehashed"],
)  # fmt: skip
def test_damage_is_reported_at_the_first_broken_link(damage, seq: int, reason: str) -> None:
    entries = chain(5)
    damage(entries)
    walk = ChainWalk()
    assert not walk.feed(entries)
    assert (walk.broken.seq, walk.broken.reason) == (seq, reason)


def test_canonical_json_is_independent_of_key_order_and_offset() -> None:
    utc = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    berlin = utc.astimezone(timezone(timedelta(hours=1)))
    assert canonical_json({"b": 1, "a": utc}) == canonical_json({"a": berlin, "b": 1})
    assert canonical_json({"a": utc}) == b'{"a":"2030-01-01T12:00:00.000000Z"}'
    with pytest.raises(TypeError):
        canonical_json({"x": 0.1})


def test_minors_need_a_guardian_and_adults_consent_for_themselves() -> None:
    with pytest.raises(Refusal) as refused:
        check_consenter(client_id="c", age_band="child", consenter=Actor("c", "client"))
    assert refused.value.field == "body.consenter.role"
    check_consenter(client_id="c", age_band="child", consenter=Actor("g", "guardian"))
    with pytest.raises(Refusal):
        check_consenter(client_id="c", age_band="adult", consenter=Actor("g", "guardian"))
    with pytest.raises(Refusal) as unknown:
        check_consenter(client_id="c", age_band=None, consenter=Actor("c", "client"))
    assert (unknown.value.status, unknown.value.retry_after) == (409, 1)  # retry later, with Retry-After


def test_the_witness_is_a_third_person() -> None:
    with pytest.raises(Refusal) as refused:
        grant_parties(caller=Principal("clin", "clinician"), client_id="c", method="verbal-witnessed",
                      consenter=Actor("c", "client"), witness_id="c", assigned_clinician="clin")  # fmt: skip
    assert refused.value.field == "body.witness.actor_id"
