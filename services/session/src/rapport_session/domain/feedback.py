"""Feedback payloads built from items alone: totals and subscales are computed here, never trusted.

The API accepts only the items a client marked; this module sums them (SRS/ORS exactly in tenths, so
39.4 stays 39.4) and returns the contract payloads of ``feedback.events``, whose own validators then
re-check every range and sum. Invalid input raises ``pydantic.ValidationError`` (a ``ValueError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rapport_common.events.feedback import (
    WAI_SUBSCALES,
    AgeBand,
    OrsItems,
    OrsSubmittedData,
    PulseQuestion,
    PulseSubmittedData,
    SrsItems,
    SrsSubmittedData,
    WaiSubmittedData,
)

WAI_ITEM_COUNT = 12


def srs_total(items: SrsItems) -> float:
    """SRS total 0-40, exact at one decimal (sum of integer tenths)."""
    return items.total_tenths() / 10


def ors_total(items: OrsItems) -> float:
    """ORS total 0-40, exact at one decimal (sum of integer tenths)."""
    return items.total_tenths() / 10


def wai_subscales(items: Sequence[int]) -> dict[str, int]:
    """Goal, task and bond sums of the 12 WAI-SR items (1-based item numbers from DOMAIN.md)."""
    if len(items) != WAI_ITEM_COUNT:
        raise ValueError(f"WAI-SR has {WAI_ITEM_COUNT} items, got {len(items)}")
    return {name: sum(items[n - 1] for n in numbers) for name, numbers in WAI_SUBSCALES.items()}


def wai_total(items: Sequence[int]) -> int:
    """WAI-SR total 12-60: the sum of the three subscales, i.e. of all items."""
    return sum(wai_subscales(items).values())


def srs_payload(
    *,
    response_id: str,
    client_id: str,
    clinician_id: str,
    session_id: str | None,
    items: SrsItems | Mapping[str, Any],
    comment: str | None = None,
) -> SrsSubmittedData:
    """``srs-submitted`` data with the total computed from the items."""
    srs_items = items if isinstance(items, SrsItems) else SrsItems.model_validate(items)
    return SrsSubmittedData(
        response_id=response_id,
        client_id=client_id,
        clinician_id=clinician_id,
        session_id=session_id,
        items=srs_items,
        total=srs_total(srs_items),
        comment=comment,
    )


def ors_payload(
    *,
    response_id: str,
    client_id: str,
    clinician_id: str,
    session_id: str | None,
    items: OrsItems | Mapping[str, Any],
    age_band: AgeBand,
) -> OrsSubmittedData:
    """``ors-submitted`` data with the total computed from the items (``session_id`` None for a baseline)."""
    ors_items = items if isinstance(items, OrsItems) else OrsItems.model_validate(items)
    return OrsSubmittedData(
        response_id=response_id,
        client_id=client_id,
        clinician_id=clinician_id,
        session_id=session_id,
        items=ors_items,
        total=ors_total(ors_items),
        age_band=age_band,
    )


def pulse_payload(
    *,
    response_id: str,
    client_id: str,
    clinician_id: str,
    session_id: str,
    question: PulseQuestion,
    score: int,
) -> PulseSubmittedData:
    """``pulse-submitted`` data; a pulse only exists inside a running session, so ``session_id`` is required."""
    return PulseSubmittedData(
        response_id=response_id,
        client_id=client_id,
        clinician_id=clinician_id,
        session_id=session_id,
        question=question,
        score=score,
    )


def wai_payload(
    *,
    response_id: str,
    client_id: str,
    clinician_id: str,
    session_id: str | None,
    items: Sequence[int],
) -> WaiSubmittedData:
    """``wai-submitted`` data with goal/task/bond computed from the 12 items in WAI-SR order."""
    item_list = list(items)
    # with the wrong length, in-range placeholders let the contract model report only the real error (items)
    subscales = wai_subscales(item_list) if len(item_list) == WAI_ITEM_COUNT else dict.fromkeys(WAI_SUBSCALES, 4)
    return WaiSubmittedData(
        response_id=response_id,
        client_id=client_id,
        clinician_id=clinician_id,
        session_id=session_id,
        items=item_list,
        **subscales,
    )
