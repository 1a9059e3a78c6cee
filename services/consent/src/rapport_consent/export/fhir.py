"""FHIR R4B resources for compliance: a ``Consent`` per consent, an ``AuditEvent`` per ledger entry, in a
``collection`` Bundle. Every resource is built through the `fhir.resources.R4B` models, so what we export
has been validated against the R4B structure definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent

from rapport_consent.domain.consent import ConsentFacts, state_at
from rapport_consent.domain.ledger import canonical_json

SCOPE_SYSTEM = "urn:rapport:consent-scope"
ACTION_SYSTEM = "urn:rapport:ledger-action"
_FHIR_SCOPE = {"telehealth-treatment": "treatment", "research": "research"}  # others: patient-privacy
_CRUDE = {
    "consent.granted": "C",
    "consent.revoked": "U",
    "consent.expired": "U",
    "compliance.read": "R",
    "document.published": "C",
}


def _instant(value: datetime) -> str:
    return value.isoformat()


def _period(row: dict[str, Any]) -> dict[str, Any]:
    """From ``valid_from`` to whichever comes first of ``valid_until`` and the revocation (open if neither)."""
    ends = [t for t in (row["valid_until"], row.get("revoked_effective_at")) if t is not None]
    period: dict[str, Any] = {"start": _instant(row["valid_from"])}
    if ends:
        period["end"] = _instant(min(ends))
    return period


def _performer(row: dict[str, Any]) -> dict[str, Any]:
    """Whose consent it is: the client (Patient) or a guardian (RelatedPerson)."""
    if row["consenter_role"] == "client":
        return {"reference": f"Patient/{row['client_id']}"}
    return {"reference": f"RelatedPerson/{row['consenter_id']}", "display": "guardian"}


def consent_resource(row: dict[str, Any], at: datetime) -> Consent:
    state = state_at(ConsentFacts(row["valid_from"], row["valid_until"], row.get("revoked_effective_at")), at)
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": row["consent_id"],
        "status": "active" if state in ("active", "pending") else "inactive",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": _FHIR_SCOPE.get(row["scope"], "patient-privacy"),
                }
            ]
        },
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]},
            {"coding": [{"system": SCOPE_SYSTEM, "code": row["scope"]}]},
        ],
        "patient": {"reference": f"Patient/{row['client_id']}"},
        "dateTime": _instant(row["recorded_at"]),
        "performer": [_performer(row)],
        "policy": [
            {
                "authority": "urn:rapport:consent-documents",
                "uri": f"urn:rapport:consent-document:{row['scope']}:{row['document_version']}:sha256:"
                f"{row['document_hash']}",
            }
        ],
        "provision": {"type": "permit", "period": _period(row)},
    }
    if row["method"] == "verbal-witnessed":
        resource["verification"] = [
            {
                "verified": True,
                "verifiedWith": {"reference": f"Practitioner/{row['granted_by_id']}"},
                "verificationDate": _instant(row["recorded_at"]),
            }
        ]
    return Consent.model_validate(resource)


def audit_event_resource(entry: dict[str, Any]) -> AuditEvent:
    details = [
        {"type": name, "valueString": str(entry[name])}
        for name in ("seq", "hash", "prev_hash", "channel", "request_id")
        if entry.get(name) is not None
    ]
    details.append({"type": "details", "valueString": canonical_json(entry["details"]).decode("utf-8")})
    entities: list[dict[str, Any]] = [
        {"what": {"identifier": {"system": "urn:rapport:ledger", "value": entry["entry_id"]}}, "detail": details}
    ]
    if entry.get("consent_id"):
        entities.append({"what": {"reference": f"Consent/{entry['consent_id']}"}})
    if entry.get("client_id"):
        entities.append({"what": {"reference": f"Patient/{entry['client_id']}"}})
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": entry["entry_id"],
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "subtype": [{"system": ACTION_SYSTEM, "code": entry["action"]}],
        "action": _CRUDE.get(entry["action"], "E"),
        "recorded": _instant(entry["at"]),
        "outcome": "0",
        "agent": [
            {
                "who": {"identifier": {"system": "urn:rapport:actor", "value": entry["actor_id"]}},
                "role": [{"text": entry["actor_role"]}],
                "requestor": True,
            }
        ],
        "source": {
            "observer": {"display": "rapport-consent"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}],
        },
        "entity": entities,
    }
    if entry.get("reason"):
        resource["purposeOfEvent"] = [{"text": entry["reason"]}]
    return AuditEvent.model_validate(resource)


def bundle(consents: list[Consent], audit_events: list[AuditEvent], at: datetime) -> Bundle:
    entries = [{"fullUrl": f"urn:uuid:{resource.id}", "resource": resource} for resource in [*consents, *audit_events]]
    return Bundle.model_validate(
        {"resourceType": "Bundle", "type": "collection", "timestamp": _instant(at), "entry": entries}
    )
