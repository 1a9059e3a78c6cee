"""`feedback.events`: SRS, ORS, in-session pulse and WAI-SR responses."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from rapport_common.events.envelope import CloudEvent
from rapport_common.events.fields import NonEmptyStr, ScaleItem, ScaleTotal, tenths
from rapport_common.events.payload import Payload

TOPIC = "feedback.events"

AgeBand = Literal["adult", "adolescent", "child"]
PulseQuestion = Literal["felt-heard", "on-track"]

#: ORS clinical cutoffs by age band (DOMAIN.md)
ORS_CUTOFF: dict[str, float] = {"adult": 25.0, "adolescent": 28.0, "child": 32.0}
SRS_CUTOFF = 36.0

#: WAI-SR subscale item numbers (1-based, DOMAIN.md)
WAI_SUBSCALES: dict[str, tuple[int, ...]] = {
    "goal": (4, 6, 8, 11),
    "task": (1, 2, 10, 12),
    "bond": (3, 5, 7, 9),
}


def total_is_item_sum(cls: Any, value: float, info: ValidationInfo) -> float:
    """Field validator for ``total``: it must equal the sum of the (already validated) items, exactly."""
    items = info.data.get("items")
    if items is not None and tenths(value) != items.total_tenths():
        raise ValueError(f"must equal the sum of the items ({items.total_tenths() / 10:.1f})")
    return value


class SrsItems(Payload):
    relationship: ScaleItem
    goals_topics: ScaleItem
    approach_method: ScaleItem
    overall: ScaleItem

    def total_tenths(self) -> int:
        return sum(tenths(v) for v in (self.relationship, self.goals_topics, self.approach_method, self.overall))


class OrsItems(Payload):
    individual: ScaleItem
    interpersonal: ScaleItem
    social: ScaleItem
    overall: ScaleItem

    def total_tenths(self) -> int:
        return sum(tenths(v) for v in (self.individual, self.interpersonal, self.social, self.overall))


class FeedbackData(Payload):
    response_id: NonEmptyStr
    client_id: NonEmptyStr
    clinician_id: NonEmptyStr
    session_id: NonEmptyStr | None


class SrsSubmittedData(FeedbackData):
    items: SrsItems
    total: ScaleTotal
    comment: str | None = Field(default=None, max_length=2000)

    _total = field_validator("total")(total_is_item_sum)


class OrsSubmittedData(FeedbackData):
    items: OrsItems
    total: ScaleTotal
    age_band: AgeBand

    _total = field_validator("total")(total_is_item_sum)


class PulseSubmittedData(FeedbackData):
    question: PulseQuestion
    score: int = Field(ge=1, le=5)


class WaiSubmittedData(FeedbackData):
    items: list[Annotated[int, Field(ge=1, le=5)]] = Field(min_length=12, max_length=12)
    goal: int = Field(ge=4, le=20)
    task: int = Field(ge=4, le=20)
    bond: int = Field(ge=4, le=20)

    @field_validator("goal", "task", "bond")
    @classmethod
    def _subscale_is_item_sum(cls, value: int, info: ValidationInfo) -> int:
        items = info.data.get("items")
        if items is not None and info.field_name is not None:
            numbers = WAI_SUBSCALES[info.field_name]
            if value != sum(items[n - 1] for n in numbers):
                raise ValueError(f"must equal the sum of items {numbers}")
        return value


class SrsSubmitted(CloudEvent[SrsSubmittedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.feedback.srs-submitted"] = "rapport.feedback.srs-submitted"


class OrsSubmitted(CloudEvent[OrsSubmittedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.feedback.ors-submitted"] = "rapport.feedback.ors-submitted"


class PulseSubmitted(CloudEvent[PulseSubmittedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.feedback.pulse-submitted"] = "rapport.feedback.pulse-submitted"


class WaiSubmitted(CloudEvent[WaiSubmittedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.feedback.wai-submitted"] = "rapport.feedback.wai-submitted"


EVENTS = (SrsSubmitted, OrsSubmitted, PulseSubmitted, WaiSubmitted)
