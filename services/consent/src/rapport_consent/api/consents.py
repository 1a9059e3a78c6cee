"""Consent routes: documents, grant, revoke, point-in-time state and the fast check for other services."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import JSONResponse

from rapport_common.auth import Principal
from rapport_common.clock import Clock
from rapport_common.db import idempotency, outbox
from rapport_common.events.consent import ConsentScope
from rapport_common.projections import intake_view
from rapport_common.service import ClockDep
from rapport_consent import events
from rapport_consent.api.deps import (
    AnyRole,
    Checker,
    ConsentReader,
    ConsentWriter,
    CountsReader,
    PoolDep,
    Publisher,
    RequestIdDep,
    SettingsDep,
    actor,
)
from rapport_consent.schemas import (
    CheckOut,
    ConsentOut,
    DocumentOut,
    GrantRequest,
    PointInTime,
    PublishRequest,
    RevokeRequest,
)
from rapport_consent.audit import record_read
from rapport_consent.domain.consent import (
    Actor,
    ConsentFacts,
    Refusal,
    check_consenter,
    check_revocable,
    check_window,
    grant_parties,
    part2_valid_until,
    state_at,
)
from rapport_consent.store import consents as store
from rapport_consent.store import ledger

router = APIRouter(tags=["consents"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
At = Annotated[datetime | None, Query(description="RFC 3339 with offset; defaults to now")]


def _at(value: datetime | None, clock: Clock) -> datetime:
    if value is None:
        return clock.now()
    if value.tzinfo is None:
        raise Refusal(422, "query.at", "must include a timezone offset")
    return value


def consent_view(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A consent as the API shows it, with its state at ``at``."""
    facts = ConsentFacts(row["valid_from"], row["valid_until"], row.get("revoked_effective_at"))
    revocation = None
    if row.get("revoked_effective_at") is not None:
        revocation = {
            "effective_at": row["revoked_effective_at"],
            "revoked_by": {"actor_id": row["revoked_by_id"], "role": row["revoked_by_role"]},
            "reason": row["revoke_reason"],
            "recorded_at": row["revoked_recorded_at"],
        }
    return ConsentOut(
        consent_id=row["consent_id"],
        client_id=row["client_id"],
        scope=row["scope"],
        state=state_at(facts, at),
        document_version=row["document_version"],
        document_hash=row["document_hash"],
        method=row["method"],
        granted_by={"actor_id": row["granted_by_id"], "role": row["granted_by_role"]},
        consenter={"actor_id": row["consenter_id"], "role": row["consenter_role"]},
        witness=store.as_json(row["witness"]),
        part2=store.as_json(row["part2"]),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        recorded_at=row["recorded_at"],
        revocation=revocation,
        expired_at=row.get("expired_at"),
    ).model_dump(mode="json")


async def _may_read(pool: PoolDep, principal: Principal, client_id: str) -> None:
    """Clients read their own consents, clinicians their assigned clients'; compliance and service all."""
    if principal.role == "client" and principal.subject != client_id:
        raise HTTPException(403, "client_id: a client may read only their own consents")
    if (
        principal.role == "clinician"
        and (await intake_view.client_facts(pool, client_id)).clinician_id != principal.subject
    ):
        raise HTTPException(403, "client_id: client is not assigned to this clinician")


@router.get("/consents/documents", response_model=list[DocumentOut])
async def list_documents(_: AnyRole, pool: PoolDep, scope: ConsentScope | None = None) -> list[dict[str, Any]]:
    """Consent texts (not client data): every role may read them."""
    return await store.documents(pool, scope)


@router.post("/consents/documents", status_code=201, response_model=DocumentOut)
async def publish_document(
    body: PublishRequest,
    principal: Publisher,
    pool: PoolDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Publish a new version of a scope's consent text; grants made afterwards without a
    ``document_version`` reference it (the latest is the last published), older versions stay readable,
    grantable by name and immutable (the table refuses UPDATE/DELETE).

    Only the ``service`` role publishes: the platform's document-management automation, which carries the
    text through its own review and approval. No person role fits: compliance reads everything and writes
    nothing but its own audit reads, operators see no consent content, clinicians and supervisors deal
    with their clients' consents (not with the texts every client signs), and clients sign, they do not
    author. The publisher's identity is in the ledger entry, like every other consent action.

    ``content_hash`` is computed by the database from the stored text (as for the seeded versions);
    ``version`` defaults to the next whole number of the scope. The same (scope, version) twice is a 409
    naming ``body.version`` (a published text is never replaced); the same text under a new version is
    fine. Document row and ledger entry (action ``document.published``) commit together; no event
    (consent.events carries grants, revocations and expiries only)."""
    raw = body.model_dump(mode="json")
    key_scope = idempotency.caller_scope("consent.document", principal)
    async with pool.acquire() as conn, conn.transaction():
        earlier = await idempotency.replay(conn, scope=key_scope, key=idempotency_key, body=raw)
        if earlier is not None:
            return JSONResponse(earlier.response, status_code=earlier.status_code)
        await store.lock_scope_documents(conn, body.scope)
        version = body.version or await store.next_version(conn, body.scope)
        if await store.document(conn, body.scope, version) is not None:
            raise Refusal(409, "body.version", f"{body.scope!r} version {version!r} is already published")
        try:
            async with conn.transaction():  # savepoint: a lost race must not abort the whole transaction
                document = await store.insert_document(conn, body.scope, version, body.title, body.body)
        except asyncpg.UniqueViolationError:
            raise Refusal(409, "body.version", f"{body.scope!r} version {version!r} is already published") from None
        out = DocumentOut(**document).model_dump(mode="json")
        await idempotency.remember(conn, scope=key_scope, key=idempotency_key, body=raw, status_code=201, response=out)
        # last: the ledger's append lock is held from here to commit
        await ledger.append(
            conn,
            [
                ledger.NewEntry(
                    actor_id=principal.subject,
                    actor_role=principal.role,
                    action="document.published",
                    channel="api",
                    scope=body.scope,
                    reason="consent document version published",
                    request_id=request_id,
                    details={
                        "version": document["version"],
                        "title": document["title"],
                        "content_hash": document["content_hash"],
                        "body_chars": len(document["body"]),
                        "published_at": document["published_at"],
                    },
                )
            ],
        )
    return JSONResponse(out, status_code=201)


@router.get("/consents/documents/{scope}/{version}", response_model=DocumentOut)
async def get_document(_: AnyRole, pool: PoolDep, scope: ConsentScope, version: str) -> dict[str, Any]:
    doc = await store.document(pool, scope, version)
    if doc is None:
        raise HTTPException(404, "version: no such document version for this scope")
    return doc


@router.post("/consents", status_code=201, response_model=ConsentOut)
async def grant(
    body: GrantRequest,
    principal: ConsentWriter,
    pool: PoolDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Grant a consent (client e-signature, guardian via the signing service, or clinician-recorded verbal
    consent with a witness). Consent row, ledger entry and `rapport.consent.granted` commit together."""
    now = clock.now()
    raw = body.model_dump(mode="json")
    key_scope = idempotency.caller_scope("consent.grant", principal)
    async with pool.acquire() as conn, conn.transaction():
        earlier = await idempotency.replay(conn, scope=key_scope, key=idempotency_key, body=raw)
        if earlier is not None:
            return JSONResponse(earlier.response, status_code=earlier.status_code)
        facts = await intake_view.client_facts(conn, body.client_id)
        consenter = Actor(body.consenter.actor_id, body.consenter.role) if body.consenter else None
        parties = grant_parties(
            caller=actor(principal),
            client_id=body.client_id,
            method=body.method,
            consenter=consenter,
            witness_id=body.witness.actor_id if body.witness else None,
            assigned_clinician=facts.clinician_id,
        )
        if body.witness is not None and body.method != "verbal-witnessed":
            raise Refusal(422, "body.witness", "only for verbal-witnessed consent")
        check_consenter(client_id=body.client_id, age_band=facts.age_band, consenter=parties.consenter)
        valid_until = part2_valid_until(
            scope=body.scope,
            method=body.method,
            part2=body.part2.model_dump() if body.part2 else None,
            valid_until=body.valid_until,
        )
        valid_from = body.valid_from or now
        check_window(
            valid_from=valid_from,
            valid_until=valid_until,
            now=now,
            backdate_tolerance=timedelta(seconds=settings.consent_backdate_tolerance_s),
        )
        document = await store.document(conn, body.scope, body.document_version)
        if document is None:
            raise Refusal(422, "body.document_version", f"no published {body.scope!r} document of this version")
        consent = {
            "consent_id": str(uuid.uuid4()),
            "client_id": body.client_id,
            "scope": body.scope,
            "document_version": document["version"],
            "document_hash": document["content_hash"],
            "method": body.method,
            "granted_by_id": parties.granted_by.actor_id,
            "granted_by_role": parties.granted_by.role,
            "consenter_id": parties.consenter.actor_id,
            "consenter_role": parties.consenter.role,
            "witness": raw["witness"],
            "part2": raw["part2"],
            "valid_from": valid_from,
            "valid_until": valid_until,
            "recorded_at": now,
            "recorded_by_id": principal.subject,
            "recorded_by_role": principal.role,
        }
        await store.insert_consent(conn, consent)
        await outbox.enqueue(conn, [events.granted(consent)])
        out = consent_view(consent, now)
        await idempotency.remember(conn, scope=key_scope, key=idempotency_key, body=raw, status_code=201, response=out)
        # last: the ledger's append lock is held from here to commit, so keep that stretch short
        await ledger.append(
            conn,
            [
                ledger.NewEntry(
                    actor_id=principal.subject,
                    actor_role=principal.role,
                    action="consent.granted",
                    channel=body.method,
                    client_id=body.client_id,
                    scope=body.scope,
                    consent_id=consent["consent_id"],
                    reason=f"consent given by {parties.consenter.role}",
                    request_id=request_id,
                    details={
                        "document_version": consent["document_version"],
                        "document_hash": consent["document_hash"],
                        "granted_by": {"actor_id": parties.granted_by.actor_id, "role": parties.granted_by.role},
                        "consenter": {"actor_id": parties.consenter.actor_id, "role": parties.consenter.role},
                        "witness": raw["witness"],
                        "part2": raw["part2"],
                        "valid_from": valid_from,
                        "valid_until": valid_until,
                        "age_band": facts.age_band,
                    },
                )
            ],
        )
    return JSONResponse(out, status_code=201)


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
async def revoke(
    consent_id: str,
    body: RevokeRequest,
    principal: ConsentWriter,
    pool: PoolDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Revoke from ``effective_at`` (default now). Never edits the grant: the revocation is a new fact."""
    now = clock.now()
    raw = {"consent_id": consent_id, **body.model_dump(mode="json")}
    key_scope = idempotency.caller_scope("consent.revoke", principal)
    async with pool.acquire() as conn, conn.transaction():
        earlier = await idempotency.replay(conn, scope=key_scope, key=idempotency_key, body=raw)
        if earlier is not None:
            return JSONResponse(earlier.response, status_code=earlier.status_code)
        row = await store.consent(conn, consent_id, lock=True)
        if row is None:
            raise HTTPException(404, "consent_id: no such consent")
        revoked_by = _revoker(principal, row, body, await intake_view.client_facts(conn, row["client_id"]))
        effective_at = body.effective_at or now
        check_revocable(
            ConsentFacts(row["valid_from"], row["valid_until"]),
            already_revoked=row["revoked_effective_at"] is not None,
            expired=row["expired_at"] is not None,
            effective_at=effective_at,
            now=now,
            backdate_tolerance=timedelta(seconds=settings.consent_backdate_tolerance_s),
        )
        revocation = {
            "consent_id": consent_id,
            "effective_at": effective_at,
            "revoked_by_id": revoked_by.actor_id,
            "revoked_by_role": revoked_by.role,
            "reason": body.reason,
            "recorded_at": now,
            "recorded_by_id": principal.subject,
            "recorded_by_role": principal.role,
        }
        await store.insert_revocation(conn, revocation)
        await outbox.enqueue(conn, [events.revoked(row, revocation)])
        row.update(
            revoked_effective_at=effective_at,
            revoked_by_id=revoked_by.actor_id,
            revoked_by_role=revoked_by.role,
            revoke_reason=body.reason,
            revoked_recorded_at=now,
        )
        out = consent_view(row, now)
        await idempotency.remember(conn, scope=key_scope, key=idempotency_key, body=raw, status_code=200, response=out)
        # last: the ledger's append lock is held from here to commit
        await ledger.append(
            conn,
            [
                ledger.NewEntry(
                    actor_id=principal.subject,
                    actor_role=principal.role,
                    action="consent.revoked",
                    channel="api",
                    client_id=row["client_id"],
                    scope=row["scope"],
                    consent_id=consent_id,
                    reason=body.reason,
                    request_id=request_id,
                    details={
                        "effective_at": effective_at,
                        "revoked_by": {"actor_id": revoked_by.actor_id, "role": revoked_by.role},
                        "revoker": raw["revoker"],
                    },
                )
            ],
        )
    return JSONResponse(out, status_code=200)


def _revoker(principal: Principal, row: dict[str, Any], body: RevokeRequest, facts: intake_view.ClientFacts) -> Actor:
    """Clients revoke their own consents (a minor may always withdraw; revoking only ever restricts);
    the clinician of record records a revocation given to them; the signing service revokes for the
    named client or guardian."""
    if principal.role == "client":
        if row["client_id"] != principal.subject:
            raise HTTPException(403, "consent_id: not your consent")
        if body.revoker is not None and (body.revoker.role, body.revoker.actor_id) != ("client", principal.subject):
            raise Refusal(403, "body.revoker", "a client token may only revoke as that client")
        return Actor(principal.subject, "client")
    if principal.role == "clinician":
        if facts.clinician_id != principal.subject:
            raise HTTPException(403, "consent_id: client is not assigned to this clinician")
        return Actor(principal.subject, "clinician")
    if body.revoker is None:
        raise Refusal(422, "body.revoker", "required: the client or guardian who revoked")
    return Actor(body.revoker.actor_id, body.revoker.role)


@router.get("/consents/check", response_model=CheckOut)
async def check(
    principal: Checker,
    pool: PoolDep,
    clock: ClockDep,
    client_id: Annotated[str, Query(min_length=1, max_length=200)],
    scope: ConsentScope,
    at: At = None,
) -> Any:
    """Is ``scope`` active for ``client_id`` at ``at`` (default now)? One indexed query; not ledgered
    (service-to-service hot path, no consent content returned beyond the consent id)."""
    when = _at(at, clock)
    clinician, consent_id, valid_until = await store.check(pool, client_id, scope, when)
    if principal.role == "clinician" and clinician != principal.subject:
        raise HTTPException(403, "client_id: client is not assigned to this clinician")
    return JSONResponse(
        {
            "client_id": client_id,
            "scope": scope,
            "at": when.isoformat(),
            "active": consent_id is not None,
            "consent_id": consent_id,
            "valid_until": valid_until.isoformat() if valid_until else None,
        }
    )


@router.get("/consents/stats")
async def stats(_: CountsReader, pool: PoolDep, clock: ClockDep, at: At = None) -> dict[str, Any]:
    """Active consents per scope: counts only, for operators' dashboards."""
    when = _at(at, clock)
    return {"at": when.isoformat(), "active_by_scope": await store.active_counts(pool, when)}


@router.get("/consents/{consent_id}", response_model=ConsentOut)
async def get_consent(
    consent_id: str,
    principal: ConsentReader,
    pool: PoolDep,
    request_id: RequestIdDep,
    clock: ClockDep,
    at: At = None,
) -> Any:
    when = _at(at, clock)
    row = await store.consent(pool, consent_id)
    if row is None:
        raise HTTPException(404, "consent_id: no such consent")
    await _may_read(pool, principal, row["client_id"])
    if principal.role == "compliance":
        await record_read(
            pool,
            principal,
            what="consent",
            request_id=request_id,
            client_id=row["client_id"],
            scope=row["scope"],
            consent_id=consent_id,
            filters={"at": when},
        )
    return consent_view(row, when)


@router.get("/clients/{client_id}/consents", response_model=PointInTime)
async def point_in_time(
    client_id: str,
    principal: ConsentReader,
    pool: PoolDep,
    request_id: RequestIdDep,
    clock: ClockDep,
    at: At = None,
) -> Any:
    """Which consents (and scopes) were active for the client at ``at`` (default now)."""
    when = _at(at, clock)
    await _may_read(pool, principal, client_id)
    if principal.role == "compliance":
        await record_read(
            pool, principal, what="point-in-time", request_id=request_id, client_id=client_id, filters={"at": when}
        )
    views = [consent_view(row, when) for row in await store.client_consents(pool, client_id)]
    active = sorted({view["scope"] for view in views if view["state"] == "active"})
    return {"client_id": client_id, "at": when.isoformat(), "active_scopes": active, "consents": views}
