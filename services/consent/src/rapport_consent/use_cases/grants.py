"""Granting a consent: who may grant for whom, through which channel, for which document and window."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from rapport_common.application.unit_of_work import Outcome, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.projections import intake_view
from rapport_common.refusal import Refusal
from rapport_consent import events
from rapport_consent.domain.consent import (
    Actor,
    GrantParties,
    check_consenter,
    check_window,
    grant_parties,
    part2_valid_until,
)
from rapport_consent.schemas import GrantRequest, consent_out
from rapport_consent.settings import ConsentSettings
from rapport_consent.store import consents as store
from rapport_consent.store import ledger


async def grant_consent(
    uow: UnitOfWork, *, principal: Principal, request: GrantRequest, settings: ConsentSettings, request_id: str | None
) -> Outcome:
    """Grant a consent (client e-signature, guardian via the signing service, or clinician-recorded verbal
    consent with a witness): 201 with the consent. Consent row, `rapport.consent.granted` and the ledger
    entry commit together."""
    facts = await intake_view.client_facts(uow.conn, request.client_id)
    parties = _parties(principal, request, facts)
    valid_from = request.valid_from or uow.now
    valid_until = part2_valid_until(
        scope=request.scope,
        method=request.method,
        part2=request.part2.model_dump() if request.part2 else None,
        valid_until=request.valid_until,
    )
    check_window(
        valid_from=valid_from, valid_until=valid_until, now=uow.now, backdate_tolerance=settings.backdate_tolerance
    )
    document = await _document(uow.conn, request)
    consent = _new_consent(uow, principal, request, parties, document, valid_from, valid_until)
    await store.insert_consent(uow.conn, consent)
    await uow.publish(events.granted(consent))
    body = consent_out(consent, uow.now)
    await ledger.append(uow.conn, [_granted_entry(principal, consent, facts, request_id)])  # last: see use_cases
    return Outcome(201, body)


def _parties(principal: Principal, request: GrantRequest, facts: intake_view.ClientFacts) -> GrantParties:
    """Who grants and whose consent it is, if the caller may record it for this client (the age band decides
    whether a guardian must consent; unknown yet: 409, retry later)."""
    consenter = Actor(request.consenter.actor_id, request.consenter.role) if request.consenter else None
    parties = grant_parties(
        caller=principal,
        client_id=request.client_id,
        method=request.method,
        consenter=consenter,
        witness_id=request.witness.actor_id if request.witness else None,
        assigned_clinician=facts.clinician_id,
    )
    check_consenter(client_id=request.client_id, age_band=facts.age_band, consenter=parties.consenter)
    return parties


async def _document(conn: asyncpg.Connection, request: GrantRequest) -> dict[str, Any]:
    """The document version the grant refers to: the one named, or the latest published."""
    document = await store.document(conn, request.scope, request.document_version)
    if document is None:
        raise Refusal(422, "body.document_version", f"no published {request.scope!r} document of this version")
    return document


def _new_consent(
    uow: UnitOfWork,
    principal: Principal,
    request: GrantRequest,
    parties: GrantParties,
    document: dict[str, Any],
    valid_from: datetime,
    valid_until: datetime | None,
) -> dict[str, Any]:
    """The consent row as :func:`store.consents.insert_consent` stores it."""
    raw = request.model_dump(mode="json")
    return {
        "consent_id": str(uuid.uuid4()),
        "client_id": request.client_id,
        "scope": request.scope,
        "document_version": document["version"],
        "document_hash": document["content_hash"],
        "method": request.method,
        "granted_by_id": parties.granted_by.actor_id,
        "granted_by_role": parties.granted_by.role,
        "consenter_id": parties.consenter.actor_id,
        "consenter_role": parties.consenter.role,
        "witness": raw["witness"],
        "part2": raw["part2"],
        "valid_from": valid_from,
        "valid_until": valid_until,
        "recorded_at": uow.now,
        "recorded_by_id": principal.subject,
        "recorded_by_role": principal.role,
    }


def _granted_entry(
    principal: Principal, consent: dict[str, Any], facts: intake_view.ClientFacts, request_id: str | None
) -> ledger.NewEntry:
    """The grant in the ledger, with the parties, the document and the age band it was decided by."""
    return ledger.NewEntry(
        actor_id=principal.subject,
        actor_role=principal.role,
        action="consent.granted",
        channel=consent["method"],
        client_id=consent["client_id"],
        scope=consent["scope"],
        consent_id=consent["consent_id"],
        reason=f"consent given by {consent['consenter_role']}",
        request_id=request_id,
        details={
            "document_version": consent["document_version"],
            "document_hash": consent["document_hash"],
            "granted_by": {"actor_id": consent["granted_by_id"], "role": consent["granted_by_role"]},
            "consenter": {"actor_id": consent["consenter_id"], "role": consent["consenter_role"]},
            "witness": consent["witness"],
            "part2": consent["part2"],
            "valid_from": consent["valid_from"],
            "valid_until": consent["valid_until"],
            "age_band": facts.age_band,
        },
    )
