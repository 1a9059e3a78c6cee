"""Baseline ORS scoring: the total is computed here (never taken from the caller), exactly in tenths.

A total below the age band's clinical cutoff (adult 25, adolescent 28, child 32) places the client in the
clinical range at intake; the `ors-not-improving` rule downstream only applies to such clients.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapport_common.events.feedback import ORS_CUTOFF
from rapport_common.events.fields import tenths

ORS_ITEMS = ("individual", "interpersonal", "social", "overall")


@dataclass(frozen=True)
class BaselineScore:
    total: float
    clinical_cutoff: float
    below_cutoff: bool


def score_baseline(items: dict[str, float], age_band: str) -> BaselineScore:
    """Total of the four items (exact at one decimal) and where it sits against the age band's cutoff."""
    return score_tenths(sum(tenths(items[name]) for name in ORS_ITEMS), age_band)


def score_tenths(total_tenths: int, age_band: str) -> BaselineScore:
    """A total stored in tenths against the age band's cutoff (compared in tenths: exact)."""
    cutoff = ORS_CUTOFF[age_band]
    return BaselineScore(
        total=total_tenths / 10,
        clinical_cutoff=cutoff,
        below_cutoff=total_tenths < tenths(cutoff),
    )
