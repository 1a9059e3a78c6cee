"""`consent.events`: grants, revocations and expiries of scoped consents."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, field_validator

from rapport_common.events.envelope import CloudEvent
from rapport_common.events.fields import NonEmptyStr, must_follow
from rapport_common.events.payload import Payload

TOPIC = "consent.events"

ConsentScope = Literal[
    "telehealth-treatment",
    "session-recording",
    "measurement-feedback",
    "alliance-analytics",
    "message-scanning",
    "third-party-sharing",
    "sud-part2-disclosure",
    "research",
]
CONSENT_SCOPES: tuple[str, ...] = ConsentScope.__args__  # type: ignore[attr-defined]


class GrantedBy(Payload):
    actor_id: NonEmptyStr
    role: Literal["client", "guardian", "clinician"]


class RevokedBy(Payload):
    actor_id: NonEmptyStr
    role: NonEmptyStr


class ConsentGrantedData(Payload):
    consent_id: NonEmptyStr
    client_id: NonEmptyStr
    scope: ConsentScope
    granted_by: GrantedBy
    method: Literal["e-signature", "verbal-witnessed"]
    document_version: NonEmptyStr
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None

    _window = field_validator("valid_until")(must_follow("valid_from"))


class ConsentRevokedData(Payload):
    consent_id: NonEmptyStr
    client_id: NonEmptyStr
    scope: ConsentScope
    revoked_by: RevokedBy
    effective_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=500)


class ConsentExpiredData(Payload):
    consent_id: NonEmptyStr
    client_id: NonEmptyStr
    scope: ConsentScope
    expired_at: AwareDatetime


class ConsentGranted(CloudEvent[ConsentGrantedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.consent.granted"] = "rapport.consent.granted"


class ConsentRevoked(CloudEvent[ConsentRevokedData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.consent.revoked"] = "rapport.consent.revoked"


class ConsentExpired(CloudEvent[ConsentExpiredData]):
    topic: ClassVar[str] = TOPIC
    type: Literal["rapport.consent.expired"] = "rapport.consent.expired"


EVENTS = (ConsentGranted, ConsentRevoked, ConsentExpired)
