"""What the monitor publishes on ``alliance.alerts`` (it consumes the four input topics, see settings).

Events derived from input (raise, update, resolve by rule) get deterministic ids, so a replay that reaches
the outbox again is absorbed there (``ON CONFLICT (event_id) DO NOTHING``) as well as by the alerts table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from rapport_alliance_monitor.domain import Raise, Update
from rapport_alliance_monitor.domain.alerts import ALERT_NAMESPACE
from rapport_common.events.alerts import (
    AlertAcknowledged,
    AlertAcknowledgedData,
    AlertRaised,
    AlertResolved,
    AlertResolvedData,
    AlertUpdated,
)
from rapport_common.events.envelope import CloudEvent, EventT, new_event

SOURCE = "/rapport/alliance-monitor"


def _build(
    cls: type[EventT], *, client_id: str, data: BaseModel, at: datetime, event_id: str | None, traceparent: str | None
) -> EventT:
    return new_event(
        cls, subject=client_id, source=SOURCE, data=data, time=at, event_id=event_id, traceparent=traceparent
    )


def _derived_id(*parts: str) -> str:
    return str(uuid.uuid5(ALERT_NAMESPACE, "|".join(("event", *parts))))


def raised(decision: Raise, *, traceparent: str | None) -> AlertRaised:
    return _build(
        AlertRaised,
        client_id=decision.client_id,
        data=decision.to_payload(),
        at=decision.at,
        event_id=_derived_id(decision.alert_id, "raised"),
        traceparent=traceparent,
    )


def updated(decision: Update, added: list[str], *, traceparent: str | None) -> AlertUpdated:
    data = decision.to_payload().model_copy(update={"added_evidence": added})
    return _build(
        AlertUpdated,
        client_id=decision.client_id,
        data=data,
        at=decision.at,
        event_id=_derived_id(decision.alert_id, "updated", *added),
        traceparent=traceparent,
    )


def resolved(
    *, alert_id: str, client_id: str, by: str, at: datetime, reason: str, traceparent: str | None
) -> AlertResolved:
    return _build(
        AlertResolved,
        client_id=client_id,
        data=AlertResolvedData(alert_id=alert_id, by=by, at=at, reason=reason),
        at=at,
        event_id=_derived_id(alert_id, "resolved"),
        traceparent=traceparent,
    )


def acknowledged(
    *, alert_id: str, client_id: str, by: str, at: datetime, note: str | None, traceparent: str | None
) -> AlertAcknowledged:
    return _build(
        AlertAcknowledged,
        client_id=client_id,
        data=AlertAcknowledgedData(alert_id=alert_id, by=by, at=at, note=note),
        at=at,
        event_id=None,
        traceparent=traceparent,
    )


AlertEvent = CloudEvent[Any]
