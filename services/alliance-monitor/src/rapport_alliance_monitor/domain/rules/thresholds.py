"""What a rule's thresholds are made of: a frozen section of the rules config whose field defaults are DOMAIN.md's.

Each rule module declares the section its rules read next to the rules themselves, and each field's
description is the comment the operator sees in the generated ``rules.default.yaml``. Unknown keys are
refused (a typo never silently falls back to a default). SRS/ORS points have at most one decimal because
the rules compare them exactly, in tenths.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from rapport_common.events.fields import tenths


def _one_decimal(value: float) -> float:
    if abs(value * 10 - tenths(value)) > 1e-6:
        raise ValueError("must have at most one decimal place (scale points are compared in tenths)")
    return value


ScalePoints = Annotated[float, Field(ge=0.0, le=40.0), AfterValidator(_one_decimal)]
ItemPoints = Annotated[float, Field(ge=0.0, le=10.0), AfterValidator(_one_decimal)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class Thresholds(BaseModel):
    """One section of the rules config (``srs``, ``ors``, ...), or a group nested in one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
