"""Every contract event survives encode -> Kafka record -> decode unchanged, and decoding is a tolerant reader."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from rapport_common.events import (
    CONTENT_TYPE,
    EVENT_CLASSES,
    TOPIC_OF_TYPE,
    TOPICS,
    CloudEvent,
    decode_event,
    encode_event,
)
from rapport_common.events.examples import EXAMPLE_TRACEPARENT, EXAMPLES, example_event
from rapport_common.events.feedback import SrsSubmitted
from rapport_common.events.intake import ClinicianRegistered
from rapport_common.events.session import SessionStarted

# the topic table of EVENTS.md, written out independently of the code
CONTRACT_TOPICS = {
    "intake.events": ["clinician-registered", "client-registered", "completed", "clinician-assigned"],
    "consent.events": ["granted", "revoked", "expired"],
    "session.events": [
        "scheduled",
        "started",
        "participant-joined",
        "participant-left",
        "telemetry",
        "overrun",
        "ended",
        "cancelled",
        "no-show",
        "message-sent",
        "recording-started",
    ],
    "feedback.events": ["srs-submitted", "ors-submitted", "pulse-submitted", "wai-submitted"],
    "alliance.alerts": ["alert-raised", "alert-updated", "alert-acknowledged", "alert-resolved"],
}
PREFIX = {topic: topic.split(".")[0] for topic in CONTRACT_TOPICS}  # rapport.<prefix>.<name>

by_type = pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=lambda cls: cls.event_type())


def headers_of(record_headers: list[tuple[str, bytes]]) -> dict[str, str]:
    return {name: value.decode() for name, value in record_headers}


def test_catalog_matches_the_contract_topic_table() -> None:
    expected = {f"rapport.{PREFIX[topic]}.{name}": topic for topic, names in CONTRACT_TOPICS.items() for name in names}
    assert expected == TOPIC_OF_TYPE
    assert list(TOPICS) == list(CONTRACT_TOPICS)
    assert len(EVENT_CLASSES) == 26


@by_type
def test_encode_then_decode_gives_an_equal_event(event_cls: type[CloudEvent[Any]]) -> None:
    event = example_event(event_cls)
    record = encode_event(event)

    assert record.topic == TOPIC_OF_TYPE[event_cls.event_type()]
    assert record.key == event.subject.encode()
    assert headers_of(record.headers) == {
        "content-type": CONTENT_TYPE,
        "rapport-type": event_cls.event_type(),
        "rapport-id": event.id,
        "traceparent": EXAMPLE_TRACEPARENT,
    }
    decoded = decode_event(record.value, record.headers)
    assert type(decoded) is event_cls
    assert decoded == event


@by_type
def test_absent_optional_attributes_are_omitted(event_cls: type[CloudEvent[Any]]) -> None:
    event = example_event(event_cls, traceparent=None, dataschema=None, datacontenttype=None)
    record = encode_event(event)

    envelope = json.loads(record.value)
    assert set(envelope) == {"specversion", "id", "source", "type", "subject", "time", "data"}
    assert "traceparent" not in headers_of(record.headers)
    decoded = decode_event(record.value, record.headers)
    assert (decoded.traceparent, decoded.dataschema) == (None, None)
    assert decoded.datacontenttype == "application/json"  # the CloudEvents default for JSON data
    assert decoded.data == event.data


@by_type
def test_unknown_attributes_and_fields_are_ignored(event_cls: type[CloudEvent[Any]]) -> None:
    event = EXAMPLES[event_cls.event_type()]
    envelope = json.loads(encode_event(event).value)
    envelope["partnerextension"] = "ignored"
    envelope["data"]["added_in_a_later_version"] = {"nested": [1, 2]}
    for value in envelope["data"].values():
        if isinstance(value, dict):  # nested objects (items, granted_by, baseline_ors) are tolerant too
            value["x_future"] = True

    assert decode_event(json.dumps(envelope).encode()) == event


def test_clinician_registered_is_keyed_by_the_clinician() -> None:
    record = encode_event(EXAMPLES["rapport.intake.clinician-registered"])
    assert record.key == b"clinician-1"
    assert json.loads(record.value)["data"]["clinician_id"] == "clinician-1"


def test_traceparent_header_fills_a_missing_envelope_attribute() -> None:
    record = encode_event(example_event(SessionStarted, traceparent=None))
    headers = [*record.headers, ("traceparent", EXAMPLE_TRACEPARENT.encode())]
    assert decode_event(record.value, headers).traceparent == EXAMPLE_TRACEPARENT


def test_content_type_header_is_case_insensitive_and_may_carry_parameters() -> None:
    record = encode_event(EXAMPLES["rapport.session.started"])
    headers = [("Content-Type", f"{CONTENT_TYPE}; charset=utf-8".encode())]
    assert decode_event(record.value, headers) == EXAMPLES["rapport.session.started"]
    assert decode_event(record.value) == EXAMPLES["rapport.session.started"]  # no headers at all


def test_time_keeps_its_offset_and_instant() -> None:
    berlin = timezone(timedelta(hours=1))
    event = example_event(SessionStarted, time=datetime(2025, 3, 3, 16, 1, tzinfo=berlin))
    record = encode_event(event)

    assert json.loads(record.value)["time"] == "2025-03-03T16:01:00+01:00"
    decoded = decode_event(record.value)
    assert decoded.time == datetime(2025, 3, 3, 15, 1, tzinfo=UTC)
    assert decoded.time.utcoffset() == timedelta(hours=1)


def test_srs_scores_roundtrip_at_one_decimal() -> None:
    event = example_event(SrsSubmitted, items={"relationship": 0.1, "goals_topics": 0.2})
    decoded = decode_event(encode_event(event).value)
    assert decoded.data.items.relationship == 0.1
    assert decoded.data.total == event.data.total == 20.1


def test_examples_are_deterministic_and_ids_follow_content() -> None:
    assert example_event(SrsSubmitted) == EXAMPLES["rapport.feedback.srs-submitted"]
    other_client = example_event(SrsSubmitted, subject="client-2")
    assert other_client.id != EXAMPLES["rapport.feedback.srs-submitted"].id
    assert other_client.data.client_id == "client-2"
    assert example_event(ClinicianRegistered, subject="clinician-9").data.clinician_id == "clinician-9"


def test_example_overrides_keep_the_event_consistent() -> None:
    later = EXAMPLES["rapport.session.started"].time + timedelta(days=7)
    moved = example_event(SessionStarted, time=later)
    assert moved.data.started_at == later

    srs = example_event(SrsSubmitted, items={"overall": 7.5})
    assert (srs.data.items.overall, srs.data.total) == (7.5, 37.0)

    with pytest.raises(TypeError, match="no envelope attribute or payload field"):
        example_event(SrsSubmitted, not_a_field=1)
