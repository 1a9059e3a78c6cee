"""The intake questionnaire (once per client, with its baseline ORS) and the intake summary."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from rapport_common.application.unit_of_work import Outcome, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import AgeBand
from rapport_common.events.fields import tenths
from rapport_common.events.intake import BaselineOrs
from rapport_common.refusal import Refusal
from rapport_intake import events, store
from rapport_intake.domain import access
from rapport_intake.domain.ors import score_baseline
from rapport_intake.metrics import REGISTRATIONS
from rapport_intake.schemas import AssignmentRecord, BaselineOut, IntakeIn, IntakeOut, IntakeSummaryOut, OrsItemsIn
from rapport_intake.use_cases.clients import client_for

log = logging.getLogger(__name__)


async def complete_intake(uow: UnitOfWork, *, principal: Principal, client_id: str, request: IntakeIn) -> Outcome:
    """Record the intake questionnaire (201) and publish `rapport.intake.completed` and, when a clinician is
    already assigned, the baseline `rapport.feedback.ors-submitted` (``session_id`` null); otherwise the
    baseline goes out at the first assignment. The total and the age band's cutoff are computed here, never
    taken from the caller. 409 for a second intake."""
    client = await client_for(
        uow, principal=principal, client_id=client_id, all_clients=access.COMPLETE_INTAKE_ALL_CLIENTS, for_update=True
    )
    if await store.get_intake(uow.conn, client_id) is not None:
        raise Refusal(409, "client_id", "intake already completed")
    intake_id = str(uuid.uuid4())
    clinician_id: str | None = client["clinician_id"]
    items = request.baseline_ors.model_dump() if request.baseline_ors else None
    baseline = _new_baseline(items, client_id=client_id, clinician_id=clinician_id, age_band=client["age_band"])
    await _insert(
        uow, principal=principal, client_id=client_id, intake_id=intake_id, request=request, baseline=baseline
    )
    published = _intake_events(
        uow, client_id=client_id, intake_id=intake_id, request=request, baseline=baseline, clinician_id=clinician_id
    )
    await uow.publish(*published)
    REGISTRATIONS.labels("intake").inc()
    log.info("intake completed", extra={"event_id": published[0].id, "count": len(published)})
    result = _intake_out(
        intake_id=intake_id,
        client_id=client_id,
        age_band=client["age_band"],
        completed_at=uow.now,
        response_id=baseline.response_id if baseline else None,
        items=items,
        published=clinician_id is not None,
    )
    return Outcome(201, result.model_dump(mode="json"))


def _new_baseline(
    items: dict[str, float] | None, *, client_id: str, clinician_id: str | None, age_band: AgeBand
) -> BaselineOrs | None:
    """The baseline ORS the client answered (a new response id, the computed total), or None if declined."""
    if items is None:
        return None
    return events.baseline_ors(
        response_id=str(uuid.uuid4()),
        client_id=client_id,
        clinician_id=clinician_id,
        items=items,
        total=score_baseline(items, age_band).total,
        age_band=age_band,
    )


async def _insert(
    uow: UnitOfWork,
    *,
    principal: Principal,
    client_id: str,
    intake_id: str,
    request: IntakeIn,
    baseline: BaselineOrs | None,
) -> None:
    """The intake's row. With a baseline it names the clinician the baseline goes out for now; None (no
    clinician yet) leaves it for the first assignment to publish."""
    await store.insert_intake(
        uow.conn,
        intake_id=intake_id,
        client_id=client_id,
        presenting_concerns=list(request.presenting_concerns),
        goals=list(request.goals),
        ors_response_id=baseline.response_id if baseline else None,
        ors_items=request.baseline_ors.model_dump() if request.baseline_ors else None,
        ors_total_tenths=tenths(baseline.total) if baseline else None,
        completed_by=principal.subject,
        completed_at=uow.now,
        baseline_clinician_id=baseline.clinician_id if baseline else None,
    )


def _intake_events(
    uow: UnitOfWork,
    *,
    client_id: str,
    intake_id: str,
    request: IntakeIn,
    baseline: BaselineOrs | None,
    clinician_id: str | None,
) -> list[CloudEvent[Any]]:
    """`completed`, then the baseline `ors-submitted` when there is a baseline and a clinician to give it to
    (its time is now: the client answers as the intake is recorded)."""
    published = [
        events.intake_completed(
            client_id=client_id,
            intake_id=intake_id,
            presenting_concerns=list(request.presenting_concerns),
            goals=list(request.goals),
            baseline=baseline,
            at=uow.now,
        )
    ]
    if baseline is not None and clinician_id is not None:
        published.append(
            events.baseline_ors_submitted(baseline=baseline, clinician_id=clinician_id, answered_at=uow.now)
        )
    return published


async def read_intake_summary(uow: UnitOfWork, *, principal: Principal, client_id: str) -> IntakeSummaryOut:
    """A client's intake summary: the clinician of record sees everything, compliance sees everything but
    the client's own words (presenting concerns and goals come back null)."""
    client = await client_for(
        uow, principal=principal, client_id=client_id, all_clients=access.INTAKE_SUMMARY_ALL_CLIENTS
    )
    intake = await store.get_intake(uow.conn, client_id)
    history = await store.assignments(uow.conn, client_id)
    return _summary(principal, client, intake, history)


def _summary(
    principal: Principal, client: asyncpg.Record, intake: asyncpg.Record | None, history: list[asyncpg.Record]
) -> IntakeSummaryOut:
    words = access.sees_client_words(principal) and intake is not None
    return IntakeSummaryOut(
        client_id=client["client_id"],
        age_band=client["age_band"],
        timezone=client["timezone"],
        registered_at=client["registered_at"],
        clinician_id=client["clinician_id"],
        assignments=[AssignmentRecord(**dict(row)) for row in history],
        intake=None
        if intake is None
        else _intake_out(
            intake_id=intake["intake_id"],
            client_id=client["client_id"],
            age_band=client["age_band"],
            completed_at=intake["completed_at"],
            response_id=intake["ors_response_id"],
            items=intake["ors_items"],
            published=intake["baseline_clinician_id"] is not None,
        ),
        presenting_concerns=list(intake["presenting_concerns"]) if words and intake else None,
        goals=list(intake["goals"]) if words and intake else None,
    )


def _intake_out(
    *,
    intake_id: str,
    client_id: str,
    age_band: AgeBand,
    completed_at: datetime,
    response_id: str | None,
    items: dict[str, float] | None,
    published: bool,
) -> IntakeOut:
    """An intake as answered and summarised: the baseline's score is recomputed from its items."""
    baseline = None
    if items is not None and response_id is not None:
        score = score_baseline(items, age_band)
        baseline = BaselineOut(
            response_id=response_id,
            items=OrsItemsIn(**items),
            total=score.total,
            age_band=age_band,
            clinical_cutoff=score.clinical_cutoff,
            below_cutoff=score.below_cutoff,
        )
    return IntakeOut(
        intake_id=intake_id,
        client_id=client_id,
        completed_at=completed_at,
        baseline_ors=baseline,
        baseline_published=baseline is not None and published,
    )
