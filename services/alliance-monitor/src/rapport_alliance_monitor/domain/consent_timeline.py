"""A client's consents per scope as a timeline: grants, revocations and expiries, never rewritten.

Each consent (``consent_id``) keeps the facts received about it; whether it is active at a given time is
decided by :func:`rapport_alliance_monitor.domain.consent_gate.is_active`. Recording is idempotent and
order-free: a revocation that arrives before its grant waits on the same record.
"""

from __future__ import annotations

from datetime import datetime

from rapport_alliance_monitor.domain.records import StateModel
from rapport_common.events.consent import ConsentScope


class ConsentRecord(StateModel):
    consent_id: str
    scope: ConsentScope
    #: None until the grant itself has been seen
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    #: earliest revocation ``effective_at`` and expiry ``expired_at`` seen for this consent
    revoked_at: datetime | None = None
    expired_at: datetime | None = None


def _earliest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new < current else current


class ConsentTimeline(StateModel):
    records: tuple[ConsentRecord, ...] = ()

    def _record(self, consent_id: str, scope: ConsentScope) -> ConsentRecord:
        for record in self.records:
            if record.consent_id == consent_id:
                return record
        return ConsentRecord(consent_id=consent_id, scope=scope)

    def _with(self, record: ConsentRecord) -> ConsentTimeline:
        others = tuple(r for r in self.records if r.consent_id != record.consent_id)
        return ConsentTimeline(records=(*others, record))

    def with_grant(
        self, consent_id: str, scope: ConsentScope, valid_from: datetime, valid_until: datetime | None
    ) -> ConsentTimeline:
        record = self._record(consent_id, scope)
        return self._with(
            record.model_copy(update={"scope": scope, "valid_from": valid_from, "valid_until": valid_until})
        )

    def with_revocation(self, consent_id: str, scope: ConsentScope, effective_at: datetime) -> ConsentTimeline:
        record = self._record(consent_id, scope)
        return self._with(record.model_copy(update={"revoked_at": _earliest(record.revoked_at, effective_at)}))

    def with_expiry(self, consent_id: str, scope: ConsentScope, expired_at: datetime) -> ConsentTimeline:
        record = self._record(consent_id, scope)
        return self._with(record.model_copy(update={"expired_at": _earliest(record.expired_at, expired_at)}))
