"""Encode events to Kafka records and decode records back to validated events.

Structured mode: the value is the whole CloudEvent as JSON, the key is the subject, and the headers carry
``content-type`` and the W3C ``traceparent``, plus ``rapport-type``/``rapport-id`` so tools can route and
deduplicate without parsing. Routing headers never start with ``ce_``: per the CloudEvents Kafka binding that
prefix means binary mode, and readers that detect the mode from it (the CloudEvents SDK's ``from_kafka``)
would misread every record (EVENTS.md v1.1). Records written before v1.1 carried ``ce_type``/``ce_id``.

Decoding a record read from a topic also checks topic ownership: a type that does not belong to the topic or
a source that is not the topic's owner is rejected with reason ``foreign-source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from rapport_common.events.catalog import ANY_EVENT_ADAPTER, foreign_source
from rapport_common.events.envelope import CloudEvent

CONTENT_TYPE = "application/cloudevents+json"
_OPTIONAL_ATTRIBUTES = ("datacontenttype", "dataschema", "traceparent")
MAX_RECORD_BYTES = 1_000_000
#: routing headers: the envelope's ``type`` and ``id``
TYPE_HEADER = "rapport-type"
ID_HEADER = "rapport-id"
#: their names before v1.1 (binary-mode names by the CloudEvents Kafka binding); old records may carry them
LEGACY_TYPE_HEADER, LEGACY_ID_HEADER = "ce_type", "ce_id"
_RENAMED = {LEGACY_TYPE_HEADER: TYPE_HEADER, LEGACY_ID_HEADER: ID_HEADER}

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class EventDecodeError(ValueError):
    """A record that is not a valid contract event. ``reason`` is a short code, ``field`` the culprit."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.reason = reason
        self.field = field
        self.message = message


def encode_event(event: CloudEvent[Any]) -> KafkaRecord:
    """The Kafka record for ``event`` on its contract topic. Absent optional attributes are omitted."""
    absent = {attribute for attribute in _OPTIONAL_ATTRIBUTES if getattr(event, attribute) is None}
    headers = [
        ("content-type", CONTENT_TYPE.encode()),
        (TYPE_HEADER, event.type.encode()),
        (ID_HEADER, event.id.encode()),
    ]
    if event.traceparent:
        headers.append(("traceparent", event.traceparent.encode()))
    value = event.model_dump_json(exclude=absent).encode()
    return KafkaRecord(topic=type(event).topic, key=event.subject.encode(), value=value, headers=headers)


def header_value(headers: Headers | None, name: str) -> str | None:
    """The last value of header ``name`` (case-insensitive), decoded as UTF-8."""
    found = None
    for key, value in headers or ():
        if key.lower() == name and value is not None:
            found = value.decode("utf-8", errors="replace")
    return found


def event_id_of(headers: Headers | None) -> str | None:
    """The event id a record's routing header carries (``ce_id`` on a record written before v1.1)."""
    return header_value(headers, ID_HEADER) or header_value(headers, LEGACY_ID_HEADER)


def current_headers(headers: Headers) -> list[tuple[str, bytes]]:
    """``headers`` with the pre-v1.1 routing headers renamed (for records encoded before, e.g. in an outbox)."""
    return [(_RENAMED.get(name.lower(), name), value) for name, value in headers]


def decode_event(value: bytes | None, headers: Headers | None = None, *, topic: str | None = None) -> Any:
    """Validate one record value into its concrete event class, or raise :class:`EventDecodeError`.

    A record whose headers name a content type must name the CloudEvents JSON one; the traceparent header
    fills the envelope's attribute when the producer did not set it there. With ``topic`` (where the record
    was read from), an event that is not that topic owner's is rejected too (reason ``foreign-source``; see
    :func:`~rapport_common.events.catalog.foreign_source`).
    """
    content_type = header_value(headers, "content-type")
    if content_type is not None and content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise EventDecodeError("invalid-content-type", "content-type", f"expected {CONTENT_TYPE}, got {content_type!r}")
    if value is None:
        raise EventDecodeError("empty-value", "value", "record has no value")
    if len(value) > MAX_RECORD_BYTES:
        raise EventDecodeError("too-large", "value", f"record of {len(value)} bytes exceeds {MAX_RECORD_BYTES}")
    try:
        event = ANY_EVENT_ADAPTER.validate_json(value)
    except ValidationError as exc:
        raise _decode_error(exc) from None
    if "specversion" not in event.model_fields_set:  # the default serves events built in code, not records
        raise EventDecodeError("invalid-field", "specversion", "Field required")
    if topic is not None:
        foreign = foreign_source(topic, event)
        if foreign is not None:
            raise EventDecodeError("foreign-source", *foreign)
    if event.traceparent is None:
        traceparent = header_value(headers, "traceparent")
        if traceparent:
            event = event.model_copy(update={"traceparent": traceparent})
    return event


def _decode_error(exc: ValidationError) -> EventDecodeError:
    error = exc.errors(include_url=False)[0]
    kind = error["type"]
    if kind == "json_invalid":
        return EventDecodeError("invalid-json", "value", error["msg"])
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = error.get("ctx", {}).get("tag")
        message = f"unknown event type {tag!r}" if tag else "missing event type"
        return EventDecodeError("unknown-type", "type", message)
    if kind in ("dict_type", "model_attributes_type") and not error["loc"]:
        return EventDecodeError("not-an-object", "value", "record value must be a JSON object")
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0].startswith("rapport."):
        loc = loc[1:]  # drop the union tag pydantic puts first
    field = ".".join(part for part in loc if not part.startswith("function-")) or "value"
    return EventDecodeError("invalid-field", field, error["msg"])
