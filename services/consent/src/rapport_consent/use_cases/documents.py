"""Consent documents: the texts a person agrees to, published as immutable (scope, version) rows."""

from __future__ import annotations

from typing import Any

from rapport_common.application.unit_of_work import Outcome, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.refusal import Refusal
from rapport_consent.schemas import DocumentOut, PublishRequest
from rapport_consent.store import consents as store
from rapport_consent.store import ledger


async def publish_document(
    uow: UnitOfWork, *, principal: Principal, request: PublishRequest, request_id: str | None
) -> Outcome:
    """Publish a new version of a scope's consent text (201 with the document).

    ``version`` defaults to the next whole number of the scope. The same (scope, version) twice is a 409
    naming ``body.version``: a published text is never replaced (the table refuses UPDATE/DELETE); the same
    text under a new version is fine. Document row and ledger entry commit together; no event
    (consent.events carries grants, revocations and expiries only)."""
    # publications of one scope are serialised, so the next version number and "latest" follow commit order
    await store.lock_scope_documents(uow.conn, request.scope)
    version = request.version or await store.next_version(uow.conn, request.scope)
    if await store.document(uow.conn, request.scope, version) is not None:
        raise _already_published(request, version)
    document = await store.insert_document(uow.conn, request.scope, version, request.title, request.body)
    if document is None:
        raise _already_published(request, version)
    body = DocumentOut(**document).model_dump(mode="json")
    await ledger.append(uow.conn, [_published_entry(principal, document, request_id)])  # last: see use_cases
    return Outcome(201, body)


def _already_published(request: PublishRequest, version: str) -> Refusal:
    return Refusal(409, "body.version", f"{request.scope!r} version {version!r} is already published")


def _published_entry(principal: Principal, document: dict[str, Any], request_id: str | None) -> ledger.NewEntry:
    """The publication in the ledger: who published which text (its hash and size, not the text itself)."""
    return ledger.NewEntry(
        actor_id=principal.subject,
        actor_role=principal.role,
        action="document.published",
        channel="api",
        scope=document["scope"],
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
