"""Revoking a consent: a new fact from ``effective_at`` on; the grant itself is never edited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rapport_common.application.unit_of_work import Outcome, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.projections import intake_view
from rapport_common.refusal import Refusal
from rapport_consent import events
from rapport_consent.domain.consent import Actor, ConsentFacts, check_revocable, revoked_by
from rapport_consent.schemas import RevokeRequest, consent_out
from rapport_consent.settings import ConsentSettings
from rapport_consent.store import consents as store
from rapport_consent.store import ledger


async def revoke_consent(
    uow: UnitOfWork,
    *,
    principal: Principal,
    consent_id: str,
    request: RevokeRequest,
    settings: ConsentSettings,
    request_id: str | None,
) -> Outcome:
    """Revoke from ``effective_at`` (default now): 200 with the consent as it now reads. Revocation row,
    `rapport.consent.revoked` and the ledger entry commit together."""
    row = await store.consent(uow.conn, consent_id, lock=True)  # the lock: one of two racing revocations wins
    if row is None:
        raise Refusal(404, "consent_id", "no such consent")
    facts = await intake_view.client_facts(uow.conn, row["client_id"])
    named = Actor(request.revoker.actor_id, request.revoker.role) if request.revoker else None
    by = revoked_by(principal, client_id=row["client_id"], clinician_of_record=facts.clinician_id, named=named)
    effective_at = request.effective_at or uow.now
    check_revocable(
        ConsentFacts(row["valid_from"], row["valid_until"]),
        already_revoked=row["revoked_effective_at"] is not None,
        expired=row["expired_at"] is not None,
        effective_at=effective_at,
        now=uow.now,
        backdate_tolerance=settings.backdate_tolerance,
    )
    revocation = _revocation(uow, principal, consent_id, request, by, effective_at)
    await store.insert_revocation(uow.conn, revocation)
    await uow.publish(events.revoked(row, revocation))
    body = consent_out(_with_revocation(row, revocation), uow.now)
    await ledger.append(uow.conn, [_revoked_entry(principal, row, revocation, request, request_id)])  # last
    return Outcome(200, body)


def _revocation(
    uow: UnitOfWork, principal: Principal, consent_id: str, request: RevokeRequest, by: Actor, effective_at: datetime
) -> dict[str, Any]:
    """The revocation row as :func:`store.consents.insert_revocation` stores it."""
    return {
        "consent_id": consent_id,
        "effective_at": effective_at,
        "revoked_by_id": by.actor_id,
        "revoked_by_role": by.role,
        "reason": request.reason,
        "recorded_at": uow.now,
        "recorded_by_id": principal.subject,
        "recorded_by_role": principal.role,
    }


def _with_revocation(row: dict[str, Any], revocation: dict[str, Any]) -> dict[str, Any]:
    """The consent row as a read after commit would return it (the columns of its revocation join)."""
    return row | {
        "revoked_effective_at": revocation["effective_at"],
        "revoked_by_id": revocation["revoked_by_id"],
        "revoked_by_role": revocation["revoked_by_role"],
        "revoke_reason": revocation["reason"],
        "revoked_recorded_at": revocation["recorded_at"],
    }


def _revoked_entry(
    principal: Principal,
    row: dict[str, Any],
    revocation: dict[str, Any],
    request: RevokeRequest,
    request_id: str | None,
) -> ledger.NewEntry:
    """The revocation in the ledger: who recorded it, who revoked, and the revoker the caller named."""
    return ledger.NewEntry(
        actor_id=principal.subject,
        actor_role=principal.role,
        action="consent.revoked",
        channel="api",
        client_id=row["client_id"],
        scope=row["scope"],
        consent_id=row["consent_id"],
        reason=revocation["reason"],
        request_id=request_id,
        details={
            "effective_at": revocation["effective_at"],
            "revoked_by": {"actor_id": revocation["revoked_by_id"], "role": revocation["revoked_by_role"]},
            "revoker": request.model_dump(mode="json")["revoker"],
        },
    )
