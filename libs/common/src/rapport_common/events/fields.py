"""Constrained field types used across payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo

NonEmptyStr = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=False)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


def _one_decimal(value: float) -> float:
    """SRS/ORS items and totals are read to the millimetre: at most one decimal place."""
    tenths = value * 10
    if abs(tenths - round(tenths)) > 1e-6:
        raise ValueError("must have at most one decimal place")
    return round(value, 1)


ScaleItem = Annotated[float, Field(ge=0.0, le=10.0), AfterValidator(_one_decimal)]
ScaleTotal = Annotated[float, Field(ge=0.0, le=40.0), AfterValidator(_one_decimal)]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]


def tenths(value: float) -> int:
    """Exact integer tenths of a one-decimal scale value (39.4 -> 394), for exact comparisons."""
    return round(value * 10)


def must_follow(earlier: str) -> Callable[[Any, Any, ValidationInfo], Any]:
    """A field validator: the field's value must be strictly greater than the earlier field ``earlier``."""

    def check(cls: Any, value: Any, info: ValidationInfo) -> Any:
        before = info.data.get(earlier)
        if before is not None and value is not None and value <= before:
            raise ValueError(f"must be after {earlier}")
        return value

    return check
