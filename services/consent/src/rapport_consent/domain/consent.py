"""Consent rules: state at a point in time, who may grant what, the 42 CFR 2.31 elements, revocability.

A consent is active at ``t`` when ``valid_from <= t``, ``t < valid_until`` (if any) and no revocation with
``effective_at <= t`` exists (DOMAIN.md). Functions here raise :class:`Refusal` naming the offending field;
the API turns it into a 4xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from rapport_common.access import may_act_for_client
from rapport_common.auth import Principal, Role
from rapport_common.refusal import Refusal as Refusal  # the domain rules raise it; routes import it from here

ConsentState = Literal["pending", "active", "revoked", "expired"]
MINOR_AGE_BANDS = frozenset({"child", "adolescent"})
PART2_SCOPE = "sud-part2-disclosure"


#: seconds a caller should wait before retrying a grant for a client whose registration has not reached us
#: yet (intake.events is normally consumed within a second)
UNREGISTERED_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class ConsentFacts:
    """What the state of a consent depends on."""

    valid_from: datetime
    valid_until: datetime | None
    revoked_effective_at: datetime | None = None


def state_at(facts: ConsentFacts, at: datetime) -> ConsentState:
    if facts.revoked_effective_at is not None and facts.revoked_effective_at <= at:
        return "revoked"
    if at < facts.valid_from:
        return "pending"
    if facts.valid_until is not None and facts.valid_until <= at:
        return "expired"
    return "active"


@dataclass(frozen=True)
class Actor:
    actor_id: str
    role: str


@dataclass(frozen=True)
class GrantParties:
    """``granted_by`` goes into the event (the contract's actor); ``consenter`` is whose consent it is."""

    granted_by: Actor
    consenter: Actor


#: why a caller may not grant for this client (the access decision is :mod:`rapport_common.access`'s)
_NOT_YOURS_TO_GRANT = {
    "client": "a client may grant consent only for themself",
    "clinician": "client is not assigned to this clinician",
}
#: the same for a revocation, named by the consent it is about
_NOT_YOURS_TO_REVOKE = {"client": "not your consent", "clinician": "client is not assigned to this clinician"}
#: who acts for any client in consent writes: the signing service, for the consenter it authenticated
WRITERS_FOR_ALL_CLIENTS: tuple[Role, ...] = ("service",)


def grant_parties(
    *,
    caller: Principal,
    client_id: str,
    method: str,
    consenter: Actor | None,
    witness_id: str | None,
    assigned_clinician: str | None,
) -> GrantParties:
    """Who may record a grant and through which channel.

    - ``client``: only for themself, only by e-signature.
    - ``clinician``: only for a client assigned to them, only verbal consent with a witness; ``granted_by``
      is the clinician (the contract's role ``clinician``), the consenter (client or guardian) is recorded.
    - ``service`` (the e-signature/portal integration that authenticated the signer, e.g. a guardian, who
      has no token role of their own): e-signature on behalf of the named consenter.

    A witness belongs to verbal consent only.
    """
    if caller.role not in ("client", "clinician", "service"):
        raise Refusal(403, "role", f"role {caller.role!r} may not grant consent")
    if not may_act_for_client(
        caller, client_id=client_id, clinician_of_record=assigned_clinician, all_clients=WRITERS_FOR_ALL_CLIENTS
    ):
        raise Refusal(403, "body.client_id", _NOT_YOURS_TO_GRANT[caller.role])
    if caller.role == "client":
        parties = _self_signed(client_id=client_id, method=method, consenter=consenter)
    elif caller.role == "clinician":
        parties = _verbal(clinician_id=caller.subject, method=method, consenter=consenter, witness_id=witness_id)
    else:
        parties = _signed_for(method=method, consenter=consenter)
    if witness_id is not None and method != "verbal-witnessed":
        raise Refusal(422, "body.witness", "only for verbal-witnessed consent")
    return parties


def _self_signed(*, client_id: str, method: str, consenter: Actor | None) -> GrantParties:
    if method != "e-signature":
        raise Refusal(422, "body.method", "a client grants by e-signature (verbal consent: by a clinician)")
    if consenter is not None and (consenter.role != "client" or consenter.actor_id != client_id):
        raise Refusal(403, "body.consenter", "a client token may only consent as that client")
    person = Actor(client_id, "client")
    return GrantParties(granted_by=person, consenter=person)


def _verbal(*, clinician_id: str, method: str, consenter: Actor | None, witness_id: str | None) -> GrantParties:
    if method != "verbal-witnessed":
        raise Refusal(422, "body.method", "a clinician records verbal-witnessed consent only")
    if consenter is None:
        raise Refusal(422, "body.consenter", "required: the client or guardian who consented verbally")
    if witness_id is None:
        raise Refusal(422, "body.witness", "verbal consent needs a witness")
    if witness_id in (clinician_id, consenter.actor_id):
        raise Refusal(422, "body.witness.actor_id", "the witness must be neither the clinician nor the consenter")
    return GrantParties(granted_by=Actor(clinician_id, "clinician"), consenter=consenter)


def _signed_for(*, method: str, consenter: Actor | None) -> GrantParties:
    if method != "e-signature":
        raise Refusal(422, "body.method", "the signing service records e-signatures only")
    if consenter is None:
        raise Refusal(422, "body.consenter", "required: the client or guardian who signed")
    return GrantParties(granted_by=consenter, consenter=consenter)


def revoked_by(caller: Principal, *, client_id: str, clinician_of_record: str | None, named: Actor | None) -> Actor:
    """Who revokes: a client their own consents (a minor may always withdraw: revoking only ever
    restricts), the clinician of record a revocation given to them, the signing service the named client or
    guardian (``named``, required from it; a client may name only themself)."""
    if not may_act_for_client(
        caller, client_id=client_id, clinician_of_record=clinician_of_record, all_clients=WRITERS_FOR_ALL_CLIENTS
    ):
        reason = _NOT_YOURS_TO_REVOKE.get(caller.role, f"role {caller.role!r} may not revoke consents")
        raise Refusal(403, "consent_id", reason)
    if caller.role == "client":
        if named is not None and (named.role, named.actor_id) != ("client", caller.subject):
            raise Refusal(403, "body.revoker", "a client token may only revoke as that client")
        return Actor(caller.subject, "client")
    if caller.role == "clinician":
        return Actor(caller.subject, "clinician")
    if named is None:
        raise Refusal(422, "body.revoker", "required: the client or guardian who revoked")
    return named


def check_consenter(*, client_id: str, age_band: str | None, consenter: Actor) -> None:
    """Minors (``child``, ``adolescent``) need a guardian; adults consent for themselves.

    Fails closed: while the client's age band is unknown (intake's ``client-registered`` not seen yet)
    nobody can grant, because we cannot tell whether a guardian is needed (409, retry later).
    """
    if age_band is None:
        raise Refusal(
            409,
            "body.client_id",
            "client is not registered yet (age band unknown); retry later",
            retry_after=UNREGISTERED_RETRY_AFTER_S,
        )
    if age_band in MINOR_AGE_BANDS:
        if consenter.role != "guardian":
            raise Refusal(422, "body.consenter.role", f"a client in age band {age_band!r} needs a guardian's consent")
        if consenter.actor_id == client_id:
            raise Refusal(422, "body.consenter.actor_id", "the guardian cannot be the client")
    elif consenter.role != "client" or consenter.actor_id != client_id:
        raise Refusal(422, "body.consenter", "an adult client consents for themself")


def check_window(
    *, valid_from: datetime, valid_until: datetime | None, now: datetime, backdate_tolerance: timedelta
) -> None:
    """``valid_until`` after ``valid_from``; no backdating beyond the clock-skew tolerance (a backdated
    grant would change point-in-time answers already given, i.e. rewrite history)."""
    if valid_from < now - backdate_tolerance:
        raise Refusal(422, "body.valid_from", "must not be in the past (history is never rewritten)")
    if valid_until is not None and valid_until <= valid_from:
        raise Refusal(422, "body.valid_until", "must be after valid_from")
    if valid_until is not None and valid_until <= now:
        raise Refusal(422, "body.valid_until", "must be in the future")


def part2_valid_until(
    *, scope: str, method: str, part2: dict[str, Any] | None, valid_until: datetime | None
) -> datetime | None:
    """42 CFR 2.31: a Part 2 disclosure consent is written (e-signature) and names who may disclose, what,
    to whom, the purpose, an expiry date or end event, and acknowledges the right to revoke and the
    redisclosure notice. Returns the effective ``valid_until`` (the expiry date when only that is given)."""
    if scope != PART2_SCOPE:
        if part2 is not None:
            raise Refusal(422, "body.part2", f"only allowed for scope {PART2_SCOPE!r}")
        return valid_until
    if part2 is None:
        raise Refusal(422, "body.part2", "required for scope sud-part2-disclosure (42 CFR 2.31 elements)")
    if method != "e-signature":
        raise Refusal(422, "body.method", "42 CFR 2.31 consent must be written (e-signature)")
    expires_at, end_event = part2.get("expires_at"), part2.get("end_event")
    if expires_at is None and not end_event:
        raise Refusal(422, "body.part2.expires_at", "an expiry date or an end_event is required (42 CFR 2.31)")
    if expires_at is not None:
        if valid_until is not None and valid_until != expires_at:
            raise Refusal(422, "body.valid_until", "must equal part2.expires_at")
        expiry: datetime = expires_at
        return expiry
    return valid_until


def check_revocable(
    facts: ConsentFacts,
    *,
    already_revoked: bool,
    expired: bool,
    effective_at: datetime,
    now: datetime,
    backdate_tolerance: timedelta,
) -> None:
    """A consent can be revoked once, while it is active or still pending, not after it ended."""
    if already_revoked:
        raise Refusal(409, "consent_id", "consent is already revoked")
    if expired or (facts.valid_until is not None and facts.valid_until <= now):
        raise Refusal(409, "consent_id", "consent is not active (expired)")
    if effective_at < now - backdate_tolerance:
        raise Refusal(422, "body.effective_at", "must not be in the past (history is never rewritten)")
    if facts.valid_until is not None and effective_at >= facts.valid_until:
        raise Refusal(409, "body.effective_at", "consent ends before effective_at")
