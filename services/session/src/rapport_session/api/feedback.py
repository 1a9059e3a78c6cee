"""Feedback capture inside a session: ORS at the start, pulse during, SRS at the end, WAI-SR now and then.

Only the client fills these in, in their own session. The request carries items only; totals and
subscales are computed by ``domain.feedback`` (never trusted from the client). Nothing is recorded without
the client's ``measurement-feedback`` consent: the answer is 403 with a message saying so. Events go to
``feedback.events`` through the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

import asyncpg
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from rapport_common.auth import Principal
from rapport_common.clock import Clock
from rapport_common.db import outbox
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import AgeBand, OrsSubmitted, PulseSubmitted, SrsSubmitted, WaiSubmitted
from rapport_common.events.fields import ScaleItem
from rapport_common.projections import intake_view
from rapport_common.service import ClockDep
from rapport_session import consent_client as scopes
from rapport_session.api.deps import CallerDep, ConsentDep, PoolDep, authorize_session, not_found
from rapport_session.api.models import Body
from rapport_session.consent_client import ConsentClient
from rapport_session.domain import feedback as rules
from rapport_session.events import build
from rapport_session.store import feedback as store
from rapport_session.store import sessions

router = APIRouter(prefix="/sessions/{session_id}/feedback", tags=["feedback"])


class SrsItemsIn(Body):
    relationship: ScaleItem
    goals_topics: ScaleItem
    approach_method: ScaleItem
    overall: ScaleItem


class OrsItemsIn(Body):
    individual: ScaleItem
    interpersonal: ScaleItem
    social: ScaleItem
    overall: ScaleItem


class SrsRequest(Body):
    items: SrsItemsIn
    comment: str | None = Field(default=None, max_length=2000)


class OrsRequest(Body):
    items: OrsItemsIn


class PulseRequest(Body):
    question: Literal["felt-heard", "on-track"]
    score: int = Field(ge=1, le=5, strict=True)


class WaiRequest(Body):
    items: list[Annotated[int, Field(ge=1, le=5, strict=True)]] = Field(min_length=12, max_length=12)


class FeedbackResult(BaseModel):
    response_id: str
    instrument: str
    total: float | int | None = None
    subscales: dict[str, int] | None = None


Builder = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Instrument:
    """What the recording of one instrument needs to know: its name, when it may be submitted, its event."""

    name: str
    statuses: tuple[str, ...]
    event_cls: type[CloudEvent[Any]]
    #: at most one per session (the pulse may be given many times)
    once: bool = True


SRS = Instrument("srs", ("running", "ended"), SrsSubmitted)
ORS = Instrument("ors", ("scheduled", "running"), OrsSubmitted)
PULSE = Instrument("pulse", ("running",), PulseSubmitted, once=False)
WAI = Instrument("wai", ("running", "ended"), WaiSubmitted)


@router.post("/srs", status_code=201, response_model=FeedbackResult)
async def submit_srs(
    session_id: str, body: SrsRequest, caller: CallerDep, pool: PoolDep, clock: ClockDep, consent: ConsentDep
) -> Any:
    """Session Rating Scale, at the end of a session (running or just ended)."""

    def payload(response_id: str, row: Any) -> Any:
        return rules.srs_payload(
            response_id=response_id,
            client_id=row["client_id"],
            clinician_id=row["clinician_id"],
            session_id=row["session_id"],
            items=body.items.model_dump(),
            comment=body.comment,
        )

    data = await _record(
        session_id=session_id, instrument=SRS, payload=payload, caller=caller, pool=pool, clock=clock, consent=consent
    )
    return FeedbackResult(response_id=data.response_id, instrument="srs", total=data.total)


@router.post("/ors", status_code=201, response_model=FeedbackResult)
async def submit_ors(
    session_id: str, body: OrsRequest, caller: CallerDep, pool: PoolDep, clock: ClockDep, consent: ConsentDep
) -> Any:
    """Outcome Rating Scale, at the start of a session (in the waiting room or once running)."""
    async with pool.acquire() as conn:
        row = await sessions.get(conn, session_id)
        age_band = (await intake_view.client_facts(conn, row["client_id"])).age_band if row is not None else None

    def payload(response_id: str, row: Any) -> Any:
        if age_band is None:
            raise HTTPException(409, "age_band: the client's age band is not known yet (client not registered)")
        return rules.ors_payload(
            response_id=response_id,
            client_id=row["client_id"],
            clinician_id=row["clinician_id"],
            session_id=row["session_id"],
            items=body.items.model_dump(),
            # the clients table only holds 'adult', 'adolescent' or 'child' (CHECK constraint)
            age_band=cast(AgeBand, age_band),
        )

    data = await _record(
        session_id=session_id, instrument=ORS, payload=payload, caller=caller, pool=pool, clock=clock, consent=consent
    )
    return FeedbackResult(response_id=data.response_id, instrument="ors", total=data.total)


@router.post("/pulse", status_code=201, response_model=FeedbackResult)
async def submit_pulse(
    session_id: str, body: PulseRequest, caller: CallerDep, pool: PoolDep, clock: ClockDep, consent: ConsentDep
) -> Any:
    """One-tap in-session check; only while the session is running, as often as asked."""

    def payload(response_id: str, row: Any) -> Any:
        return rules.pulse_payload(
            response_id=response_id,
            client_id=row["client_id"],
            clinician_id=row["clinician_id"],
            session_id=row["session_id"],
            question=body.question,
            score=body.score,
        )

    data = await _record(
        session_id=session_id, instrument=PULSE, payload=payload, caller=caller, pool=pool, clock=clock, consent=consent
    )
    return FeedbackResult(response_id=data.response_id, instrument="pulse", total=data.score)


@router.post("/wai", status_code=201, response_model=FeedbackResult)
async def submit_wai(
    session_id: str, body: WaiRequest, caller: CallerDep, pool: PoolDep, clock: ClockDep, consent: ConsentDep
) -> Any:
    """WAI-SR (12 items, 1-5); subscales goal, task, bond computed here."""

    def payload(response_id: str, row: Any) -> Any:
        return rules.wai_payload(
            response_id=response_id,
            client_id=row["client_id"],
            clinician_id=row["clinician_id"],
            session_id=row["session_id"],
            items=body.items,
        )

    data = await _record(
        session_id=session_id, instrument=WAI, payload=payload, caller=caller, pool=pool, clock=clock, consent=consent
    )
    return FeedbackResult(
        response_id=data.response_id,
        instrument="wai",
        total=rules.wai_total(data.items),
        subscales={"goal": data.goal, "task": data.task, "bond": data.bond},
    )


async def _record(
    *,
    session_id: str,
    instrument: Instrument,
    payload: Builder,
    caller: Principal,
    pool: asyncpg.Pool,
    clock: Clock,
    consent: ConsentClient,
) -> Any:
    """Authorise, check consent, then in one transaction: session status, once-per-session, row and event."""
    async with pool.acquire() as conn:
        row = await sessions.get(conn, session_id)
    if row is None:
        raise not_found("session")
    authorize_session(caller, row, roles=("client",))
    if not await consent.is_active(row["client_id"], scopes.FEEDBACK):
        raise HTTPException(
            403,
            "consent: the client has no active measurement-feedback consent, so feedback is not recorded",
        )
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        row = await sessions.get(conn, session_id, for_update=True)
        assert row is not None  # sessions are never deleted
        name = instrument.name
        if row["status"] not in instrument.statuses:
            raise HTTPException(409, f"status: {name} cannot be submitted while the session is {row['status']}")
        if instrument.once and await store.count_for_session(conn, session_id=session_id, instrument=name):
            raise HTTPException(409, f"{name}: already submitted for this session")
        data = payload(str(uuid.uuid4()), row)
        await store.insert(
            conn,
            response_id=data.response_id,
            instrument=name,
            client_id=row["client_id"],
            clinician_id=row["clinician_id"],
            session_id=session_id,
            payload=data.model_dump(mode="json"),
            submitted_at=now,
        )
        await outbox.enqueue(conn, [build(instrument.event_cls, client_id=row["client_id"], data=data, at=now)])
    return data
