"""Request and response bodies of the consent API: the routes parse them, the use cases take and answer them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rapport_common.events.consent import ConsentScope
from rapport_common.refusal import Refusal
from rapport_consent.domain.consent import ConsentFacts, state_at
from rapport_consent.domain.ledger import LedgerAction, canonical_time
from rapport_consent.store import ledger
from rapport_consent.store.consents import as_json

Id = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Party(Strict):
    """The person whose consent (or revocation) it is: the client, or a guardian for a minor."""

    actor_id: Id
    role: Literal["client", "guardian"]


class Witness(Strict):
    actor_id: Id
    role: Literal["clinician", "staff", "supervisor", "family", "other"]


class Part2Elements(Strict):
    """42 CFR 2.31 required elements of a Part 2 disclosure consent."""

    disclosing_party: Text = Field(description="who may disclose (the Part 2 program, by name)")
    information: Text = Field(description="what information, how much and what kind")
    recipients: list[Text] = Field(min_length=1, max_length=50, description="to whom (names or designation)")
    purpose: Text
    expires_at: AwareDatetime | None = Field(default=None, description="expiry date; or give end_event")
    end_event: Text | None = Field(default=None, description="expiry event; or give expires_at")
    right_to_revoke_acknowledged: Literal[True]
    redisclosure_notice_acknowledged: Literal[True]


class GrantRequest(Strict):
    client_id: Id
    scope: ConsentScope
    method: Literal["e-signature", "verbal-witnessed"] = "e-signature"
    document_version: Id | None = Field(default=None, description="defaults to the latest published version")
    consenter: Party | None = Field(default=None, description="defaults to the calling client")
    witness: Witness | None = None
    valid_from: AwareDatetime | None = Field(default=None, description="defaults to now")
    valid_until: AwareDatetime | None = None
    part2: Part2Elements | None = None


class RevokeRequest(Strict):
    effective_at: AwareDatetime | None = Field(default=None, description="defaults to now")
    reason: Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)] | None = None
    revoker: Party | None = Field(default=None, description="required when the signing service revokes")


#: a document version label: URL-safe and without ':' (it is a path segment and part of the FHIR policy URI);
#: the database checks the same pattern (migration 003)
DocumentVersion = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$")]
#: longest consent text accepted (characters); the seeded texts are under 1,000, a 42 CFR Part 2 form a few
DOCUMENT_BODY_MAX = 100_000


class PublishRequest(Strict):
    """A new version of the text a person agrees to. ``body`` is stored exactly as sent (not trimmed): its
    sha256 is what a grant records, so the publisher can compute the same hash from what it sent."""

    scope: ConsentScope
    version: DocumentVersion | None = Field(
        default=None, description="label such as '2' or '2026-03'; defaults to the next whole number for the scope"
    )
    title: Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=DOCUMENT_BODY_MAX)]

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text, not only whitespace")
        return value


class DocumentOut(BaseModel):
    scope: str
    version: str
    title: str
    body: str
    content_hash: str
    published_at: datetime


class ConsentOut(BaseModel):
    consent_id: str
    client_id: str
    scope: str
    state: Literal["pending", "active", "revoked", "expired"]
    document_version: str
    document_hash: str
    method: str
    granted_by: dict[str, str]
    consenter: dict[str, str]
    witness: dict[str, Any] | None
    part2: dict[str, Any] | None
    valid_from: datetime
    valid_until: datetime | None
    recorded_at: datetime
    revocation: dict[str, Any] | None
    expired_at: datetime | None


class PointInTime(BaseModel):
    client_id: str
    at: datetime
    active_scopes: list[str]
    consents: list[ConsentOut]


class CheckOut(BaseModel):
    client_id: str
    scope: str
    at: datetime
    active: bool
    consent_id: str | None
    valid_until: datetime | None


def consent_out(row: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A consent (a row of ``store.consents``) as the API shows it, with its state at ``at``."""
    facts = ConsentFacts(row["valid_from"], row["valid_until"], row.get("revoked_effective_at"))
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
        witness=as_json(row["witness"]),
        part2=as_json(row["part2"]),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        recorded_at=row["recorded_at"],
        revocation=_revocation_out(row),
        expired_at=row.get("expired_at"),
    ).model_dump(mode="json")


def _revocation_out(row: Mapping[str, Any]) -> dict[str, Any] | None:
    if row.get("revoked_effective_at") is None:
        return None
    return {
        "effective_at": row["revoked_effective_at"],
        "revoked_by": {"actor_id": row["revoked_by_id"], "role": row["revoked_by_role"]},
        "reason": row["revoke_reason"],
        "recorded_at": row["revoked_recorded_at"],
    }


class LedgerFilters(BaseModel):
    """What a compliance query selects from the ledger (every given filter must match)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(default=None, min_length=1, max_length=200)
    scope: ConsentScope | None = None
    actor_id: str | None = Field(default=None, min_length=1, max_length=200)
    action: LedgerAction | None = None
    since: AwareDatetime | None = Field(default=None, description="entries at or after (inclusive)")
    until: AwareDatetime | None = Field(default=None, description="entries before (exclusive)")
    after_seq: int = Field(default=0, ge=0, description="pagination cursor: next_after_seq of the previous page")

    def query(self) -> ledger.LedgerQuery:
        if self.since and self.until and self.until <= self.since:
            raise Refusal(422, "query.until", "must be after since")
        return ledger.LedgerQuery(**self.model_dump(exclude={"limit"}))

    def for_ledger(self) -> dict[str, Any]:
        """The filters as the compliance read's ledger entry records them (only those given)."""
        return self.model_dump(mode="json", exclude_defaults=True)


class LedgerPage(LedgerFilters):
    limit: int = Field(default=100, ge=1, le=10_000, description="page size (capped by COMPLIANCE_PAGE_MAX)")


def ledger_entry_out(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger entry as compliance reads it: canonical time, details decoded."""
    return {**entry, "at": canonical_time(entry["at"]), "details": as_json(entry["details"])}
