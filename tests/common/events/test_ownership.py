"""Topic ownership (EVENTS.md v1.1): a record's type must belong to its topic and its source must be the topic's
owner; intake may also write a baseline ORS on feedback.events. Pure functions, no broker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rapport_common.events import EVENT_CLASSES, CloudEvent, EventDecodeError, decode_event, encode_event
from rapport_common.events.catalog import OWNER_OF_TOPIC, TOPICS, contract_topic, foreign_source
from rapport_common.events.examples import EXAMPLES, example_event
from rapport_common.events.feedback import OrsSubmitted, SrsSubmitted
from rapport_common.events.intake import ClinicianAssigned

# the producer column of EVENTS.md, written out independently of the code
CONTRACT_OWNERS = {
    "intake.events": "/rapport/intake",
    "consent.events": "/rapport/consent",
    "session.events": "/rapport/session",
    "feedback.events": "/rapport/session",
    "alliance.alerts": "/rapport/alliance-monitor",
}
OWNERS = sorted(set(CONTRACT_OWNERS.values()))

by_type = pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=lambda cls: cls.event_type())
NOT_FEEDBACK_OWNER = (
    "source",
    "feedback.events is written by /rapport/session only (and a baseline ORS by /rapport/intake)",
)


def not_the_owner(topic: str) -> tuple[str, str]:
    if topic == "feedback.events":
        return NOT_FEEDBACK_OWNER
    return "source", f"{topic} is written by {CONTRACT_OWNERS[topic]} only"


def test_every_contract_topic_has_the_owner_of_events_md() -> None:
    assert OWNER_OF_TOPIC == CONTRACT_OWNERS
    assert set(OWNER_OF_TOPIC) == set(TOPICS)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("intake.events", "intake.events"),
        ("t1a2b3c4.intake.events", "intake.events"),
        ("prod.eu.feedback.events", "feedback.events"),
        ("alliance.alerts", "alliance.alerts"),
        ("t1a2b3c4.alliance.alerts", "alliance.alerts"),
        ("intake.events.dlq", None),  # a dead-letter topic is no contract topic
        ("t1a2b3c4.intake.events.dlq", None),
        ("xintake.events", None),  # suffixes are whole dotted names
        ("t1a2b3c4.intake", None),
        ("events", None),
        ("poison", None),
    ],
)
def test_a_topic_stands_for_the_contract_topic_it_ends_with(topic: str, expected: str | None) -> None:
    assert contract_topic(topic) == expected


@by_type
def test_the_owners_event_on_its_own_topic_is_accepted(event_cls: type[CloudEvent[Any]]) -> None:
    event = EXAMPLES[event_cls.event_type()]
    assert event.source == OWNER_OF_TOPIC[event_cls.topic]
    for topic in (event_cls.topic, f"t1a2b3c4.{event_cls.topic}", "poison", f"{event_cls.topic}.dlq"):
        assert foreign_source(topic, event) is None, topic


@by_type
def test_a_type_on_another_topic_is_foreign(event_cls: type[CloudEvent[Any]]) -> None:
    event = EXAMPLES[event_cls.event_type()]
    for other in (topic for topic in TOPICS if topic != event_cls.topic):
        for topic in (other, f"t1a2b3c4.{other}"):
            assert foreign_source(topic, event) == (
                "type",
                f"{event.type} belongs to {event_cls.topic}, not {other}",
            ), topic


@by_type
def test_a_source_that_is_not_the_owner_is_foreign(event_cls: type[CloudEvent[Any]]) -> None:
    owner = OWNER_OF_TOPIC[event_cls.topic]
    for source in [*(s for s in OWNERS if s != owner), "/rapport/test", "/rapport/intake/", "rapport/session", "x"]:
        event = EXAMPLES[event_cls.event_type()].model_copy(update={"source": source})
        if event_cls is OrsSubmitted and source == "/rapport/intake":
            continue  # the example has a session: covered by the baseline tests below
        for topic in (event_cls.topic, f"t1a2b3c4.{event_cls.topic}", "poison"):
            assert foreign_source(topic, event) == not_the_owner(event_cls.topic), (
                source,
                topic,
            )


def test_intake_may_write_only_a_baseline_ors_on_feedback_events() -> None:
    baseline = example_event(OrsSubmitted, session_id=None, source="/rapport/intake")
    assert foreign_source("feedback.events", baseline) is None
    assert foreign_source("t1a2b3c4.feedback.events", baseline) is None

    in_session = example_event(OrsSubmitted, session_id="session-1", source="/rapport/intake")
    assert foreign_source("feedback.events", in_session) == NOT_FEEDBACK_OWNER
    srs = example_event(SrsSubmitted, source="/rapport/intake")
    assert foreign_source("feedback.events", srs) == NOT_FEEDBACK_OWNER
    # the owner writes baselines too (a baseline the session service records), and intake owns no other topic
    assert foreign_source("feedback.events", example_event(OrsSubmitted, session_id=None)) is None
    consent = EXAMPLES["rapport.consent.granted"].model_copy(update={"source": "/rapport/intake"})
    assert foreign_source("consent.events", consent) is not None


def test_the_forged_assignment_of_issue_15_is_foreign_on_any_topic_name() -> None:
    forged = example_event(ClinicianAssigned, source="/rapport/session")
    for topic in ("intake.events", "t1a2b3c4.intake.events", "my-intake", "intake.events.dlq"):
        assert foreign_source(topic, forged) == not_the_owner("intake.events")


def test_the_message_never_echoes_the_records_source() -> None:
    forged = example_event(ClinicianAssigned, source="/rapport/session?token=secret-value")
    field, message = foreign_source("intake.events", forged) or ("", "")
    assert field == "source"
    assert "secret-value" not in message


def test_decode_checks_ownership_only_when_told_the_topic() -> None:
    forged = encode_event(example_event(ClinicianAssigned, source="/rapport/session"))
    assert decode_event(forged.value, forged.headers).source == "/rapport/session"
    with pytest.raises(EventDecodeError) as raised:
        decode_event(forged.value, forged.headers, topic="t1a2b3c4.intake.events")
    assert (raised.value.reason, raised.value.field) == ("foreign-source", "source")

    srs = encode_event(EXAMPLES["rapport.feedback.srs-submitted"])
    with pytest.raises(EventDecodeError) as raised:
        decode_event(srs.value, srs.headers, topic="session.events")
    assert (raised.value.reason, raised.value.field) == ("foreign-source", "type")
    assert decode_event(srs.value, srs.headers, topic="feedback.events") == EXAMPLES["rapport.feedback.srs-submitted"]


def test_an_invalid_record_keeps_its_validation_reason_on_a_foreign_topic() -> None:
    """Validation comes first: ownership is judged on events only."""
    body = json.loads(encode_event(EXAMPLES["rapport.feedback.pulse-submitted"]).value)
    body["data"]["score"] = 9
    body["source"] = "/rapport/elsewhere"
    with pytest.raises(EventDecodeError) as raised:
        decode_event(json.dumps(body).encode(), topic="intake.events")
    assert (raised.value.reason, raised.value.field) == ("invalid-field", "data.score")
