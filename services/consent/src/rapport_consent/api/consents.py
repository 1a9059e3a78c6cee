"""Consent routes: documents, grant, revoke, point-in-time state and the fast check for other services.

Each route parses the request, calls one use case (:mod:`rapport_consent.use_cases`) and answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from rapport_common.application.unit_of_work import Idempotency
from rapport_common.events.consent import ConsentScope
from rapport_common.http import outcome_response
from rapport_common.refusal import Refusal
from rapport_consent.api.deps import (
    AnyRole,
    AtDep,
    Checker,
    ConsentReader,
    ConsentWriter,
    CountsReader,
    IdempotencyKey,
    PoolDep,
    Publisher,
    RequestIdDep,
    SettingsDep,
    TransactionsDep,
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
from rapport_consent.store import consents as store
from rapport_consent.use_cases import documents, grants, queries, revocations

router = APIRouter(tags=["consents"])


@router.get("/consents/documents", response_model=list[DocumentOut])
async def list_documents(_: AnyRole, pool: PoolDep, scope: ConsentScope | None = None) -> list[dict[str, Any]]:
    """Consent texts (not client data): every role may read them."""
    return await store.documents(pool, scope)


@router.post("/consents/documents", status_code=201, response_model=DocumentOut)
async def publish_document(
    body: PublishRequest,
    principal: Publisher,
    transactions: TransactionsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
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
    naming ``body.version``; the same text under a new version is fine. Document row and ledger entry
    (action ``document.published``) commit together; no event."""
    outcome = await transactions.command(
        lambda uow: documents.publish_document(uow, principal=principal, request=body, request_id=request_id),
        idempotent=Idempotency("consent.document", principal, idempotency_key, body.model_dump(mode="json")),
    )
    return outcome_response(outcome)


@router.get("/consents/documents/{scope}/{version}", response_model=DocumentOut)
async def get_document(_: AnyRole, pool: PoolDep, scope: ConsentScope, version: str) -> dict[str, Any]:
    document = await store.document(pool, scope, version)
    if document is None:
        raise Refusal(404, "version", "no such document version for this scope")
    return document


@router.post("/consents", status_code=201, response_model=ConsentOut)
async def grant(
    body: GrantRequest,
    principal: ConsentWriter,
    transactions: TransactionsDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Grant a consent (client e-signature, guardian via the signing service, or clinician-recorded verbal
    consent with a witness). Consent row, ledger entry and `rapport.consent.granted` commit together."""
    outcome = await transactions.command(
        lambda uow: grants.grant_consent(
            uow, principal=principal, request=body, settings=settings, request_id=request_id
        ),
        idempotent=Idempotency("consent.grant", principal, idempotency_key, body.model_dump(mode="json")),
    )
    return outcome_response(outcome)


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
async def revoke(
    consent_id: str,
    body: RevokeRequest,
    principal: ConsentWriter,
    transactions: TransactionsDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Revoke from ``effective_at`` (default now). Never edits the grant: the revocation is a new fact."""
    outcome = await transactions.command(
        lambda uow: revocations.revoke_consent(
            uow, principal=principal, consent_id=consent_id, request=body, settings=settings, request_id=request_id
        ),
        idempotent=Idempotency(
            "consent.revoke", principal, idempotency_key, {"consent_id": consent_id, **body.model_dump(mode="json")}
        ),
    )
    return outcome_response(outcome)


@router.get("/consents/check", response_model=CheckOut)
async def check(
    principal: Checker,
    pool: PoolDep,
    client_id: Annotated[str, Query(min_length=1, max_length=200)],
    scope: ConsentScope,
    at: AtDep,
) -> JSONResponse:
    """Is ``scope`` active for ``client_id`` at ``at`` (default now)? One indexed query; not ledgered
    (service-to-service hot path, no consent content returned beyond the consent id)."""
    # a JSONResponse, not the response model: the hot path skips validating what the use case built
    return JSONResponse(await queries.check_consent(pool, principal=principal, client_id=client_id, scope=scope, at=at))


@router.get("/consents/stats")
async def stats(_: CountsReader, pool: PoolDep, at: AtDep) -> dict[str, Any]:
    """Active consents per scope: counts only, for operators' dashboards."""
    return await queries.active_counts(pool, at=at)


@router.get("/consents/{consent_id}", response_model=ConsentOut)
async def get_consent(
    consent_id: str, principal: ConsentReader, transactions: TransactionsDep, request_id: RequestIdDep, at: AtDep
) -> dict[str, Any]:
    return await queries.read_consent(
        transactions, principal=principal, consent_id=consent_id, at=at, request_id=request_id
    )


@router.get("/clients/{client_id}/consents", response_model=PointInTime)
async def point_in_time(
    client_id: str, principal: ConsentReader, transactions: TransactionsDep, request_id: RequestIdDep, at: AtDep
) -> dict[str, Any]:
    """Which consents (and scopes) were active for the client at ``at`` (default now)."""
    return await queries.consents_at(
        transactions, principal=principal, client_id=client_id, at=at, request_id=request_id
    )
