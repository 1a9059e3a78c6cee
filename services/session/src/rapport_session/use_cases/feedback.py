"""Feedback capture inside a session: ORS at the start, pulse during, SRS at the end, WAI-SR now and then.

Only the client fills these in, in their own session. Totals and subscales are computed by
``domain.feedback`` from the items (never trusted from the client). Nothing is recorded without the
client's ``measurement-feedback`` consent; when each instrument may be submitted is ``domain.lifecycle``.
Events go to ``feedback.events`` through the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from rapport_common.application.unit_of_work import Transactions, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import (
    AgeBand,
    OrsSubmitted,
    OrsSubmittedData,
    PulseSubmitted,
    PulseSubmittedData,
    SrsSubmitted,
    SrsSubmittedData,
    WaiSubmitted,
    WaiSubmittedData,
)
from rapport_common.projections import intake_view
from rapport_common.refusal import Refusal
from rapport_session import consent_client as scopes
from rapport_session.consent_client import ConsentClient
from rapport_session.domain import feedback as rules
from rapport_session.domain import lifecycle
from rapport_session.events import build
from rapport_session.models import FeedbackResult, OrsRequest, PulseRequest, SrsRequest, WaiRequest
from rapport_session.store import feedback as store
from rapport_session.store.sessions import Row
from rapport_session.use_cases.access import party, require_consent, session_row

NO_CONSENT = "the client has no active measurement-feedback consent, so feedback is not recorded"


@dataclass(frozen=True, slots=True)
class Instrument:
    """What recording one instrument needs to know: its name, its lifecycle action, its event."""

    name: str
    action: lifecycle.Action
    event_cls: type[CloudEvent[Any]]
    #: at most one per session (the pulse may be given many times)
    once: bool = True


SRS = Instrument("srs", "submit-srs", SrsSubmitted)
ORS = Instrument("ors", "submit-ors", OrsSubmitted)
PULSE = Instrument("pulse", "submit-pulse", PulseSubmitted, once=False)
WAI = Instrument("wai", "submit-wai", WaiSubmitted)

#: builds an instrument's payload for a new response id in the locked session
Payload = Callable[[UnitOfWork, str, Row], Awaitable[Any]]


async def submit_srs(
    transactions: Transactions, *, principal: Principal, session_id: str, request: SrsRequest, consent: ConsentClient
) -> FeedbackResult:
    """Session Rating Scale, at the end of a session (running or just ended)."""

    async def payload(_: UnitOfWork, response_id: str, row: Row) -> SrsSubmittedData:
        items = request.items.model_dump()
        return rules.srs_payload(**_ids(response_id, row), items=items, comment=request.comment)

    data = await _record(
        transactions, principal=principal, session_id=session_id, instrument=SRS, payload=payload, consent=consent
    )
    return FeedbackResult(response_id=data.response_id, instrument=SRS.name, total=data.total)


async def submit_ors(
    transactions: Transactions, *, principal: Principal, session_id: str, request: OrsRequest, consent: ConsentClient
) -> FeedbackResult:
    """Outcome Rating Scale, at the start of a session (in the waiting room or once running), in the form of
    the client's age band."""

    async def payload(uow: UnitOfWork, response_id: str, row: Row) -> OrsSubmittedData:
        age_band = (await intake_view.client_facts(uow.conn, row["client_id"])).age_band
        if age_band is None:
            raise Refusal(409, "age_band", "the client's age band is not known yet (client not registered)")
        # the clients table only holds 'adult', 'adolescent' or 'child' (CHECK constraint)
        band = cast(AgeBand, age_band)
        return rules.ors_payload(**_ids(response_id, row), items=request.items.model_dump(), age_band=band)

    data = await _record(
        transactions, principal=principal, session_id=session_id, instrument=ORS, payload=payload, consent=consent
    )
    return FeedbackResult(response_id=data.response_id, instrument=ORS.name, total=data.total)


async def submit_pulse(
    transactions: Transactions, *, principal: Principal, session_id: str, request: PulseRequest, consent: ConsentClient
) -> FeedbackResult:
    """One-tap in-session check; only while the session is running, as often as asked."""

    async def payload(_: UnitOfWork, response_id: str, row: Row) -> PulseSubmittedData:
        return rules.pulse_payload(**_ids(response_id, row), question=request.question, score=request.score)

    data = await _record(
        transactions, principal=principal, session_id=session_id, instrument=PULSE, payload=payload, consent=consent
    )
    return FeedbackResult(response_id=data.response_id, instrument=PULSE.name, total=data.score)


async def submit_wai(
    transactions: Transactions, *, principal: Principal, session_id: str, request: WaiRequest, consent: ConsentClient
) -> FeedbackResult:
    """WAI-SR (12 items, 1-5); subscales goal, task, bond computed here."""

    async def payload(_: UnitOfWork, response_id: str, row: Row) -> WaiSubmittedData:
        return rules.wai_payload(**_ids(response_id, row), items=request.items)

    data = await _record(
        transactions, principal=principal, session_id=session_id, instrument=WAI, payload=payload, consent=consent
    )
    return FeedbackResult(
        response_id=data.response_id,
        instrument=WAI.name,
        total=rules.wai_total(data.items),
        subscales={"goal": data.goal, "task": data.task, "bond": data.bond},
    )


async def _record(
    transactions: Transactions,
    *,
    principal: Principal,
    session_id: str,
    instrument: Instrument,
    payload: Payload,
    consent: ConsentClient,
) -> Any:
    """Authorise and check consent (no lock held while the consent service is asked), then in one unit of
    work: the session's status, once per session, the response and its event."""
    async with transactions.begin() as uow:
        row = await session_row(uow.conn, session_id)
    party(principal, row, roles=("client",))
    await require_consent(consent, client_id=row["client_id"], scope=scopes.FEEDBACK, refusal=NO_CONSENT)
    async with transactions.begin() as uow:
        row = await session_row(uow.conn, session_id, for_update=True)
        lifecycle.next_status(instrument.action, row["status"])
        name = instrument.name
        if instrument.once and await store.count_for_session(uow.conn, session_id=session_id, instrument=name):
            raise Refusal(409, name, "already submitted for this session")
        data = await payload(uow, str(uuid.uuid4()), row)
        await store.insert(
            uow.conn,
            response_id=data.response_id,
            instrument=name,
            client_id=row["client_id"],
            clinician_id=row["clinician_id"],
            session_id=session_id,
            payload=data.model_dump(mode="json"),
            submitted_at=uow.now,
        )
        await uow.publish(build(instrument.event_cls, client_id=row["client_id"], data=data, at=uow.now))
    return data


class _Ids(TypedDict):
    response_id: str
    client_id: str
    clinician_id: str
    session_id: str


def _ids(response_id: str, row: Row) -> _Ids:
    """The ids every feedback payload carries: the new response's and the session's."""
    return _Ids(
        response_id=response_id,
        client_id=row["client_id"],
        clinician_id=row["clinician_id"],
        session_id=row["session_id"],
    )
