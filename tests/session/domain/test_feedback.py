"""Feedback payloads from items only: exact one-decimal totals, WAI-SR subscales, contract validation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rapport_common.events.feedback import OrsItems, SrsItems, SrsSubmittedData
from rapport_session.domain.feedback import (
    ors_payload,
    ors_total,
    pulse_payload,
    srs_payload,
    srs_total,
    wai_payload,
    wai_subscales,
    wai_total,
)

IDS: dict[str, Any] = {"response_id": "r-1", "client_id": "c-1", "clinician_id": "k-1", "session_id": "s-1"}


def srs(relationship: float, goals_topics: float, approach_method: float, overall: float) -> dict[str, float]:
    return {
        "relationship": relationship,
        "goals_topics": goals_topics,
        "approach_method": approach_method,
        "overall": overall,
    }


def test_srs_total_is_exact_in_tenths() -> None:
    # a plain float sum of these items is 37.099999999999994; the contract compares exact tenths
    assert 8.1 + 9.9 + 9.9 + 9.2 != 37.1
    payload = srs_payload(**IDS, items=srs(8.1, 9.9, 9.9, 9.2))
    assert payload.total == 37.1
    assert srs_total(payload.items) == 37.1


@pytest.mark.parametrize(
    ("items", "total"),
    [
        (srs(0, 0, 0, 0), 0.0),
        (srs(10, 10, 10, 10), 40.0),
        (srs(0.1, 0.2, 0.3, 0.4), 1.0),
        (srs(8.9, 9.0, 9.1, 9.0), 36.0),
        (srs(8.9, 9.0, 9.0, 9.0), 35.9),
    ],
)
def test_srs_totals(items: dict[str, float], total: float) -> None:
    payload = srs_payload(**IDS, items=items, comment="felt heard")
    assert payload.total == total
    assert payload.comment == "felt heard"
    # the built payload passes the contract's own "total equals item sum" validator on a round trip
    assert SrsSubmittedData.model_validate_json(payload.model_dump_json()) == payload


def test_srs_accepts_a_contract_items_model() -> None:
    items = SrsItems(relationship=9.5, goals_topics=9.5, approach_method=9.5, overall=9.5)
    assert srs_payload(**IDS, items=items).total == 38.0


@pytest.mark.parametrize(
    "items",
    [
        srs(10.1, 9, 9, 9),
        srs(-0.1, 9, 9, 9),
        srs(9.55, 9, 9, 9),
        {"relationship": 9, "goals_topics": 9, "approach_method": 9},
        {**srs(9, 9, 9, 9), "overall": "9"},
    ],
    ids=["above-10", "negative", "two-decimals", "missing-item", "string"],
)
def test_srs_bad_items_are_refused(items: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        srs_payload(**IDS, items=items)


def test_ors_payload_computes_total_and_keeps_age_band() -> None:
    items = {"individual": 4.2, "interpersonal": 6.3, "social": 5.5, "overall": 5.1}
    payload = ors_payload(**IDS, items=items, age_band="adolescent")
    assert payload.total == 21.1
    assert payload.age_band == "adolescent"
    assert ors_total(OrsItems(**items)) == 21.1


def test_ors_baseline_has_no_session() -> None:
    items = {"individual": 3, "interpersonal": 3, "social": 3, "overall": 3}
    payload = ors_payload(**{**IDS, "session_id": None}, items=items, age_band="adult")
    assert payload.session_id is None
    assert payload.total == 12.0


def test_ors_refuses_unknown_age_band() -> None:
    items = {"individual": 3, "interpersonal": 3, "social": 3, "overall": 3}
    with pytest.raises(ValidationError):
        ors_payload(**IDS, items=items, age_band="senior")  # type: ignore[arg-type]


def test_wai_subscales_use_the_wai_sr_item_numbers() -> None:
    # item n has value n % 5 + 1, so every subscale sum is distinct and checkable by hand
    items = [n % 5 + 1 for n in range(1, 13)]  # items 1..12 -> 2,3,4,5,1,2,3,4,5,1,2,3
    assert items == [2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3]
    assert wai_subscales(items) == {
        "goal": 5 + 2 + 4 + 2,  # items 4, 6, 8, 11
        "task": 2 + 3 + 1 + 3,  # items 1, 2, 10, 12
        "bond": 4 + 1 + 3 + 5,  # items 3, 5, 7, 9
    }
    assert wai_total(items) == sum(items) == 35


def test_wai_payload_extremes() -> None:
    low = wai_payload(**IDS, items=[1] * 12)
    high = wai_payload(**IDS, items=[5] * 12)
    assert (low.goal, low.task, low.bond) == (4, 4, 4)
    assert (high.goal, high.task, high.bond) == (20, 20, 20)


@pytest.mark.parametrize(
    "items",
    [[3] * 11, [3] * 13, [3] * 11 + [6], [0] + [3] * 11, [3] * 11 + [True]],
    ids=["eleven", "thirteen", "above-5", "zero", "bool"],
)
def test_wai_bad_items_are_refused_on_the_items_field(items: list[int]) -> None:
    with pytest.raises(ValidationError) as caught:
        wai_payload(**IDS, items=items)
    assert {error["loc"][0] for error in caught.value.errors()} == {"items"}


def test_wai_subscales_need_twelve_items() -> None:
    with pytest.raises(ValueError, match="12 items"):
        wai_subscales([3] * 10)


@pytest.mark.parametrize(("question", "score"), [("felt-heard", 1), ("on-track", 5)])
def test_pulse_payload(question: Any, score: int) -> None:
    payload = pulse_payload(**IDS, question=question, score=score)
    assert (payload.question, payload.score, payload.session_id) == (question, score, "s-1")


@pytest.mark.parametrize(("question", "score"), [("felt-heard", 0), ("felt-heard", 6), ("mood", 3)])
def test_pulse_bad_input_is_refused(question: Any, score: int) -> None:
    with pytest.raises(ValidationError):
        pulse_payload(**IDS, question=question, score=score)
