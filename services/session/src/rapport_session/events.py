"""What this service publishes (session.events, feedback.events) and how its events are built.

Every event is stamped with the request's traceparent and written to the outbox in the transaction of the
state change that caused it. ``subject`` is always the client id (the record key), so one client's events
keep their order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from rapport_common.events.envelope import EventT, new_event
from rapport_common.telemetry import current_traceparent

SOURCE = "/rapport/session"


def build(event_cls: type[EventT], *, client_id: str, data: BaseModel, at: datetime) -> EventT:
    """A new event about ``client_id`` that happened at ``at``."""
    return new_event(event_cls, subject=client_id, source=SOURCE, data=data, time=at, traceparent=current_traceparent())


def session_fields(row: Any) -> dict[str, Any]:
    """The ids every session payload carries, from a ``sessions`` row."""
    return {"session_id": row["session_id"], "client_id": row["client_id"], "clinician_id": row["clinician_id"]}
