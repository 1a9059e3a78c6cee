"""One valid, realistic, deterministic example of every contract event type.

Tests across the services build events here instead of hand-writing envelopes, and the AsyncAPI document
shows the same examples, so both break loudly when a model changes. All examples tell one story: client-1
registers, consents and completes intake, is assigned clinician-1 and has a video session on Monday
2025-03-03 15:00-15:50 UTC that runs over.

    example_event(SrsSubmitted)                                    # the default SRS, subject client-1
    example_event(SrsSubmitted, subject="client-7", items={"overall": 7.5})   # total recomputed
    example_event(SessionStarted, time=EXAMPLE_TIME + timedelta(days=7))     # data times shift too
    EXAMPLES["rapport.session.started"]                            # the default of each type
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from rapport_common.events import feedback, intake
from rapport_common.events.catalog import EVENT_CLASSES, OWNER_OF_TOPIC
from rapport_common.events.envelope import CloudEvent, EventT
from rapport_common.events.feedback import WAI_SUBSCALES
from rapport_common.events.fields import tenths

EXAMPLE_CLIENT = "client-1"
EXAMPLE_CLINICIAN = "clinician-1"
EXAMPLE_SESSION = "session-1"
#: the example session's scheduled start (a Monday); every example timestamp is relative to it
EXAMPLE_TIME = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
EXAMPLE_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

# example ids are UUID5s of the event content under this fixed namespace
_ID_NAMESPACE = uuid.UUID("6f1c1a52-5b8e-4b8e-9d55-2f0e1f6d7a10")
_ENVELOPE_ATTRIBUTES = frozenset({"id", "source", "time", "datacontenttype", "dataschema", "traceparent"})

_Data = dict[str, Any]
#: per type: subject -> (event time, payload fields); lambdas so alert evidence can refer to other examples
_DEFAULTS: dict[str, Callable[[str], tuple[datetime, _Data]]] = {}


def example_event(event_cls: type[EventT], *, subject: str | None = None, **overrides: Any) -> EventT:
    """A valid example of ``event_cls``, identical on every call with the same arguments.

    ``subject`` defaults to :data:`EXAMPLE_CLIENT` (:data:`EXAMPLE_CLINICIAN` for clinician-registered) and
    is also used as the payload's ``client_id`` (``clinician_id`` for clinician-registered).

    ``overrides`` are envelope attributes (``id``, ``source``, ``time``, ``datacontenttype``, ``dataschema``,
    ``traceparent``; ``None`` drops an optional one) or payload fields, as Python values (datetimes, not
    strings). A dict given for a nested object (``items``, ``granted_by``) is merged into the example's.
    Overriding ``time`` shifts every payload timestamp by the same amount, so the event stays consistent.
    Overriding SRS/ORS ``items`` without ``total`` recomputes the total; WAI ``items`` without the
    subscales recomputes them. The result is validated, so an override that breaks the contract raises
    pydantic's ``ValidationError``. The default ``id`` is a UUID5 of the content: equal examples share an
    id (as a redelivery would) and different ones do not.
    """
    event_type = event_cls.event_type()
    if subject is None:
        subject = EXAMPLE_CLINICIAN if event_cls is intake.ClinicianRegistered else EXAMPLE_CLIENT
    payload_cls = _payload_class(event_cls)
    unknown = set(overrides) - _ENVELOPE_ATTRIBUTES - set(payload_cls.model_fields)
    if unknown:
        raise TypeError(f"{event_cls.__name__} has no envelope attribute or payload field {sorted(unknown)}")

    time, data = _DEFAULTS[event_type](subject)
    if "time" in overrides:
        data = _shift(data, overrides["time"] - time)
        time = overrides["time"]
    data_overrides = {name: value for name, value in overrides.items() if name not in _ENVELOPE_ATTRIBUTES}
    for name, value in data_overrides.items():
        current = data.get(name)
        data[name] = {**current, **value} if isinstance(value, dict) and isinstance(current, dict) else value
    _derive_sums(payload_cls, data, data_overrides)

    envelope: dict[str, Any] = {
        "id": "pending",
        "source": OWNER_OF_TOPIC[event_cls.topic],
        "subject": subject,
        "time": time,
        "dataschema": f"urn:rapport:schema:{event_type}:1",
        "traceparent": EXAMPLE_TRACEPARENT,
    }
    envelope.update({name: value for name, value in overrides.items() if name in _ENVELOPE_ATTRIBUTES})
    event = event_cls(**{**envelope, "data": payload_cls.model_validate(data)})
    if "id" in overrides:
        return event
    content = json.dumps(event.model_dump(mode="json", exclude={"id"}), sort_keys=True)
    return event.model_copy(update={"id": str(uuid.uuid5(_ID_NAMESPACE, content))})


def _payload_class(event_cls: type[CloudEvent[Any]]) -> type[BaseModel]:
    annotation = event_cls.model_fields["data"].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise TypeError(f"{event_cls.__name__} is not a concrete event class")
    return annotation


def _shift(value: Any, delta: timedelta) -> Any:
    """``value`` with every datetime inside moved by ``delta``."""
    if isinstance(value, datetime):
        return value + delta
    if isinstance(value, dict):
        return {key: _shift(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [_shift(item, delta) for item in value]
    return value


def _derive_sums(payload_cls: type[BaseModel], data: _Data, overrides: _Data) -> None:
    """Recompute totals/subscales the caller left alone after changing the items they sum."""
    if "items" not in overrides:
        return
    items = data["items"]
    if payload_cls in (feedback.SrsSubmittedData, feedback.OrsSubmittedData) and "total" not in overrides:
        data["total"] = sum(tenths(value) for value in items.values()) / 10
    if payload_cls is feedback.WaiSubmittedData:
        for name, numbers in WAI_SUBSCALES.items():
            if name not in overrides:
                data[name] = sum(items[n - 1] for n in numbers)


def _at(**delta: float) -> datetime:
    """A timestamp relative to the example session's scheduled start."""
    return EXAMPLE_TIME + timedelta(**delta)


def _session(subject: str, session_id: str = EXAMPLE_SESSION) -> _Data:
    return {"session_id": session_id, "client_id": subject, "clinician_id": EXAMPLE_CLINICIAN}


def _feedback(subject: str, response_id: str) -> _Data:
    return {**_session(subject), "response_id": response_id}


def _srs_id(subject: str, session_id: str, items: _Data) -> str:
    """The id of the SRS example an alert cites as evidence."""
    return example_event(
        feedback.SrsSubmitted, subject=subject, response_id=f"srs-{session_id}", session_id=session_id, items=items
    ).id


_BASELINE_ORS_ITEMS = {"individual": 4.2, "interpersonal": 5.1, "social": 4.8, "overall": 4.5}
_LOW_SRS_ITEMS = {"relationship": 8.2, "goals_topics": 8.9, "approach_method": 8.6, "overall": 9.1}

_DEFAULTS.update(
    {
        "rapport.intake.clinician-registered": lambda subject: (
            _at(days=-30, hours=-6),
            {
                "clinician_id": subject,
                "display_name": "Dr. Maren Vogel",
                "timezone": "Europe/Berlin",
                "working_hours": [{"weekday": day, "start": "09:00", "end": "17:30"} for day in range(4)]
                + [{"weekday": 4, "start": "09:00", "end": "13:00"}],
                "supervisor_id": "supervisor-1",
            },
        ),
        "rapport.intake.client-registered": lambda subject: (
            _at(days=-11, hours=-5),
            {"client_id": subject, "age_band": "adult", "timezone": "America/New_York"},
        ),
        "rapport.intake.completed": lambda subject: (
            _at(days=-11, hours=-4, minutes=-30),
            {
                "client_id": subject,
                "intake_id": "intake-1",
                "presenting_concerns": ["low mood", "sleep problems"],
                "goals": ["get back to work full time", "sleep through the night"],
                "baseline_ors": {
                    "response_id": "ors-intake-1",
                    "client_id": subject,
                    "clinician_id": None,
                    "items": _BASELINE_ORS_ITEMS,
                    "total": 18.6,
                    "age_band": "adult",
                },
            },
        ),
        "rapport.intake.clinician-assigned": lambda subject: (
            _at(days=-10, hours=-6),
            {"client_id": subject, "clinician_id": EXAMPLE_CLINICIAN, "assigned_at": _at(days=-10, hours=-6)},
        ),
        "rapport.consent.granted": lambda subject: (
            _at(days=-11, hours=-5, minutes=5),
            {
                "consent_id": "consent-1",
                "client_id": subject,
                "scope": "telehealth-treatment",
                "granted_by": {"actor_id": subject, "role": "client"},
                "method": "e-signature",
                "document_version": "2025-01",
                "valid_from": _at(days=-11, hours=-5, minutes=5),
                "valid_until": _at(days=354, hours=-5, minutes=5),
            },
        ),
        "rapport.consent.revoked": lambda subject: (
            _at(days=2, hours=-1),
            {
                "consent_id": "consent-2",
                "client_id": subject,
                "scope": "session-recording",
                "revoked_by": {"actor_id": subject, "role": "client"},
                "effective_at": _at(days=2, hours=-1),
                "reason": "prefers sessions not to be recorded",
            },
        ),
        "rapport.consent.expired": lambda subject: (
            _at(days=-2, hours=-15),
            {
                "consent_id": "consent-3",
                "client_id": subject,
                "scope": "research",
                "expired_at": _at(days=-2, hours=-15),
            },
        ),
        "rapport.session.scheduled": lambda subject: (
            _at(days=-7, hours=-3),
            {**_session(subject), "scheduled_start": _at(), "scheduled_end": _at(minutes=50), "modality": "video"},
        ),
        "rapport.session.started": lambda subject: (
            _at(minutes=1),
            {**_session(subject), "started_at": _at(minutes=1)},
        ),
        "rapport.session.participant-joined": lambda subject: (
            _at(seconds=40),
            {**_session(subject), "participant": "client", "at": _at(seconds=40)},
        ),
        "rapport.session.participant-left": lambda subject: (
            _at(minutes=66),
            {**_session(subject), "participant": "client", "at": _at(minutes=66)},
        ),
        "rapport.session.telemetry": lambda subject: (
            _at(minutes=11),
            {
                **_session(subject),
                "window_start": _at(minutes=10),
                "window_end": _at(minutes=11),
                "client_talk_ratio": 0.42,
                "client_camera_on_ratio": 1.0,
                "longest_silence_s": 8.5,
            },
        ),
        "rapport.session.overrun": lambda subject: (
            _at(minutes=65),
            {**_session(subject), "scheduled_end": _at(minutes=50), "minutes_over": 15},
        ),
        "rapport.session.ended": lambda subject: (
            _at(minutes=67),
            {
                **_session(subject),
                "started_at": _at(minutes=1),
                "ended_at": _at(minutes=67),
                "scheduled_start": _at(),
                "scheduled_end": _at(minutes=50),
                "ended_by": "clinician",
            },
        ),
        "rapport.session.cancelled": lambda subject: (
            _at(days=7, hours=-6),
            {
                **_session(subject, "session-2"),
                "scheduled_start": _at(days=7),
                "cancelled_at": _at(days=7, hours=-6),
                "cancelled_by": "client",
                "late": True,
            },
        ),
        "rapport.session.no-show": lambda subject: (
            _at(days=14, minutes=15),
            {**_session(subject, "session-3"), "scheduled_start": _at(days=14)},
        ),
        "rapport.session.message-sent": lambda subject: (
            _at(days=1, hours=7, minutes=30),
            {
                "message_id": "message-1",
                "client_id": subject,
                "clinician_id": EXAMPLE_CLINICIAN,
                "sender": "client",
                "sent_at": _at(days=1, hours=7, minutes=30),
                "flags": ["off-platform-contact"],
            },
        ),
        "rapport.session.recording-started": lambda subject: (
            _at(minutes=2),
            {**_session(subject), "started_at": _at(minutes=2)},
        ),
        "rapport.feedback.srs-submitted": lambda subject: (
            _at(minutes=48),
            {
                **_feedback(subject, "srs-session-1"),
                "items": {"relationship": 9.7, "goals_topics": 9.9, "approach_method": 9.9, "overall": 9.9},
                "total": 39.4,
                "comment": None,
            },
        ),
        "rapport.feedback.ors-submitted": lambda subject: (
            _at(minutes=3),
            {
                **_feedback(subject, "ors-session-1"),
                "items": {"individual": 5.2, "interpersonal": 6.0, "social": 5.5, "overall": 5.8},
                "total": 22.5,
                "age_band": "adult",
            },
        ),
        "rapport.feedback.pulse-submitted": lambda subject: (
            _at(minutes=30),
            {**_feedback(subject, "pulse-session-1"), "question": "felt-heard", "score": 4},
        ),
        "rapport.feedback.wai-submitted": lambda subject: (
            _at(minutes=49),
            {
                **_feedback(subject, "wai-session-1"),
                "items": [4, 4, 5, 4, 5, 4, 5, 4, 5, 4, 4, 4],
                "goal": 16,
                "task": 16,
                "bond": 20,
            },
        ),
        "rapport.alliance.alert-raised": lambda subject: (
            _at(minutes=48, seconds=2),
            {
                "alert_id": "alert-1",
                "client_id": subject,
                "clinician_id": EXAMPLE_CLINICIAN,
                "session_id": EXAMPLE_SESSION,
                "rule": "srs-below-cutoff",
                "category": "alliance",
                "severity": "medium",
                "audience": "clinician",
                "summary": "SRS total 34.8 is below the 36.0 cutoff",
                "evidence": [_srs_id(subject, EXAMPLE_SESSION, _LOW_SRS_ITEMS)],
                "raised_at": _at(minutes=48, seconds=2),
            },
        ),
        "rapport.alliance.alert-updated": lambda subject: (
            _at(days=21, minutes=48, seconds=2),
            {
                "alert_id": "alert-1",
                "added_evidence": [_srs_id(subject, "session-4", {**_LOW_SRS_ITEMS, "overall": 9.5})],
                "at": _at(days=21, minutes=48, seconds=2),
                "summary": "SRS total 35.2 is still below the 36.0 cutoff",
            },
        ),
        "rapport.alliance.alert-acknowledged": lambda subject: (
            _at(days=1, hours=-6),
            {
                "alert_id": "alert-1",
                "by": EXAMPLE_CLINICIAN,
                "at": _at(days=1, hours=-6),
                "note": "Will ask the client what to change at the start of the next session.",
            },
        ),
        "rapport.alliance.alert-resolved": lambda subject: (
            _at(days=28, minutes=48, seconds=2),
            {
                "alert_id": "alert-1",
                "by": "rule",
                "at": _at(days=28, minutes=48, seconds=2),
                "reason": "a later SRS total is 36.0 or more",
            },
        ),
    }
)

#: the default example of every event type, keyed by type
EXAMPLES: dict[str, CloudEvent[Any]] = {cls.event_type(): example_event(cls) for cls in EVENT_CLASSES}
