"""What intake publishes: the four `intake.events` types and the baseline `rapport.feedback.ors-submitted`
(``session_id`` null). Intake consumes nothing: :data:`SUBSCRIPTIONS` is empty.

Every event is built here from stored facts and published by the use case through its unit of work (the
outbox row commits with the state change); the request's trace context is stamped in so the trace continues
through Kafka.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rapport_common.application.handlers import Subscription
from rapport_common.events import new_event
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import AgeBand, OrsItems, OrsSubmitted, OrsSubmittedData
from rapport_common.events.intake import (
    BaselineOrs,
    ClientRegistered,
    ClientRegisteredData,
    ClinicianAssigned,
    ClinicianAssignedData,
    ClinicianRegistered,
    ClinicianRegisteredData,
    IntakeCompleted,
    IntakeCompletedData,
    WorkingHours,
)
from rapport_common.telemetry import current_traceparent

SOURCE = "/rapport/intake"

#: what the service consumes, for the AsyncAPI document: nothing
SUBSCRIPTIONS: tuple[Subscription, ...] = ()


def _event(cls: type[Any], *, subject: str, data: Any, time: datetime) -> CloudEvent[Any]:
    return new_event(cls, subject=subject, source=SOURCE, data=data, time=time, traceparent=current_traceparent())


def clinician_registered(
    *,
    clinician_id: str,
    display_name: str,
    timezone: str,
    working_hours: list[dict[str, Any]],
    supervisor_id: str | None,
    at: datetime,
) -> CloudEvent[Any]:
    """Keyed and subjected by the clinician id: it is about no client."""
    data = ClinicianRegisteredData(
        clinician_id=clinician_id,
        display_name=display_name,
        timezone=timezone,
        working_hours=[WorkingHours(**hours) for hours in working_hours],
        supervisor_id=supervisor_id,
    )
    return _event(ClinicianRegistered, subject=clinician_id, data=data, time=at)


def client_registered(*, client_id: str, age_band: AgeBand, timezone: str, at: datetime) -> CloudEvent[Any]:
    data = ClientRegisteredData(client_id=client_id, age_band=age_band, timezone=timezone)
    return _event(ClientRegistered, subject=client_id, data=data, time=at)


def clinician_assigned(*, client_id: str, clinician_id: str, at: datetime) -> CloudEvent[Any]:
    data = ClinicianAssignedData(client_id=client_id, clinician_id=clinician_id, assigned_at=at)
    return _event(ClinicianAssigned, subject=client_id, data=data, time=at)


def intake_completed(
    *,
    client_id: str,
    intake_id: str,
    presenting_concerns: list[str],
    goals: list[str],
    baseline: BaselineOrs | None,
    at: datetime,
) -> CloudEvent[Any]:
    data = IntakeCompletedData(
        client_id=client_id,
        intake_id=intake_id,
        presenting_concerns=presenting_concerns,
        goals=goals,
        baseline_ors=baseline,
    )
    return _event(IntakeCompleted, subject=client_id, data=data, time=at)


def baseline_ors(
    *,
    response_id: str,
    client_id: str,
    clinician_id: str | None,
    items: dict[str, float],
    total: float,
    age_band: AgeBand,
) -> BaselineOrs:
    return BaselineOrs(
        response_id=response_id,
        client_id=client_id,
        clinician_id=clinician_id,
        items=OrsItems(**items),
        total=total,
        age_band=age_band,
    )


def baseline_ors_submitted(*, baseline: BaselineOrs, clinician_id: str, answered_at: datetime) -> CloudEvent[Any]:
    """The intake baseline on `feedback.events`. Its time is when the client answered, even when it is
    published later (at the first assignment), so rules evaluating on event time see the true order."""
    data = OrsSubmittedData(
        response_id=baseline.response_id,
        client_id=baseline.client_id,
        clinician_id=clinician_id,
        session_id=None,
        items=baseline.items,
        total=baseline.total,
        age_band=baseline.age_band,
    )
    return _event(OrsSubmitted, subject=baseline.client_id, data=data, time=answered_at)
