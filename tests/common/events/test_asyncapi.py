"""docs/asyncapi.yaml is generated from the models, complete, self-consistent and committed up to date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rapport_common.events import EVENT_CLASSES, TOPICS, decode_event
from rapport_common.events.asyncapi import (
    DLQ_HEADERS,
    DOCUMENT_PATH,
    REGENERATE_COMMAND,
    build_document,
    main,
    registered_subscriptions,
    render_document,
    repo_root,
)
from rapport_common.events.catalog import dlq_topic
from rapport_common.events.examples import EXAMPLES


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(render_document())


def test_committed_document_is_up_to_date() -> None:
    committed = repo_root() / DOCUMENT_PATH
    assert committed.is_file(), f"{DOCUMENT_PATH} is missing; generate it with: {REGENERATE_COMMAND}"
    assert committed.read_text(encoding="utf-8") == render_document(), (
        f"{DOCUMENT_PATH} is stale: the event models changed. Regenerate it with: {REGENERATE_COMMAND}"
    )


def test_generation_is_deterministic() -> None:
    assert render_document() == render_document()


def test_yaml_text_is_the_built_document() -> None:
    assert yaml.safe_load(render_document()) == json.loads(json.dumps(build_document()))


def test_document_is_asyncapi_3(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["defaultContentType"] == "application/cloudevents+json"
    assert {"title", "version", "description"} <= set(document["info"])


def test_every_topic_and_its_dlq_is_a_channel(document: dict[str, Any]) -> None:
    addresses = [channel["address"] for channel in document["channels"].values()]
    expected = [address for topic in TOPICS for address in (topic, dlq_topic(topic))]
    assert addresses == expected
    assert len(addresses) == 10
    for channel in document["channels"].values():
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]


def test_one_message_per_event_type_on_its_topic(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    by_name = {message["name"]: message for message in messages.values()}
    event_types = {cls.event_type() for cls in EVENT_CLASSES}
    assert len(event_types) == 26
    assert set(by_name) == event_types | {"dead-letter"}

    for channel in document["channels"].values():
        names = {resolve(document, ref["$ref"])["name"] for ref in channel["messages"].values()}
        if channel["address"].endswith(".dlq"):
            assert names == {"dead-letter"}
        else:
            assert names == {cls.event_type() for cls in EVENT_CLASSES if cls.topic == channel["address"]}


@pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=lambda cls: cls.event_type())
def test_message_describes_the_kafka_record(document: dict[str, Any], event_cls: type) -> None:
    event_type = event_cls.event_type()
    message = next(m for m in document["components"]["messages"].values() if m["name"] == event_type)

    assert message["contentType"] == "application/cloudevents+json"
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    headers = message["headers"]["properties"]
    assert {"content-type", "rapport-type", "rapport-id", "traceparent"} <= set(headers)
    assert headers["rapport-type"]["const"] == event_type
    assert not [name for name in headers if name.startswith("ce_")], "ce_ headers would mean binary mode"

    envelope = resolve(document, message["payload"]["$ref"])
    assert envelope["properties"]["type"]["const"] == event_type
    assert envelope["required"] == ["specversion", "id", "source", "type", "subject", "time", "data"]

    (example,) = message["examples"]
    record_headers = [(name, value.encode()) for name, value in example["headers"].items()]
    assert decode_event(json.dumps(example["payload"]).encode(), record_headers) == EXAMPLES[event_type]


def test_dead_letter_message_documents_the_dlq_headers(document: dict[str, Any]) -> None:
    message = document["components"]["messages"]["DeadLetter"]
    expected = [
        "dlq-reason",
        "dlq-field",
        "dlq-error",
        "dlq-source-topic",
        "dlq-source-partition",
        "dlq-source-offset",
        "dlq-consumer-group",
    ]
    assert list(DLQ_HEADERS) == expected
    assert message["headers"]["required"] == expected
    assert "foreign-source" in message["headers"]["properties"]["dlq-reason"]["examples"]
    (example,) = message["examples"]
    assert set(expected) <= set(example["headers"])
    assert (example["headers"]["dlq-reason"], example["headers"]["dlq-field"]) == (
        "invalid-field",
        "data.items.relationship",
    )


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = list(all_refs(document))
    assert len(refs) > 100
    for ref in refs:
        resolve(document, ref)


def test_operations_point_at_messages_of_their_channel(document: dict[str, Any]) -> None:
    for operation_id, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), operation_id
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel_ref}/messages/"), operation_id


def test_check_passes_on_a_fresh_file_and_fails_on_a_stale_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "asyncapi.yaml"
    assert main(["--output", str(output)]) == 0
    assert main(["--check", "--output", str(output)]) == 0

    output.write_text(output.read_text(encoding="utf-8").replace("3.0.0", "2.6.0", 1), encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--output", str(output)]) == 1
    assert REGENERATE_COMMAND in capsys.readouterr().err

    output.unlink()
    assert main(["--check", "--output", str(output)]) == 1


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The node a local ``#/a/b`` reference points at; KeyError when it dangles."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def all_refs(node: Any) -> Any:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


def test_who_consumes_what_comes_from_the_services_registrations(document: dict[str, Any]) -> None:
    subscriptions = registered_subscriptions()
    assert {"session", "consent"} <= {sub.service for sub in subscriptions}
    receive = {
        op["summary"].split(" ")[0] + "/" + op["channel"]["$ref"]: op
        for op in document["operations"].values()
        if op["action"] == "receive" and "handles" in op["summary"]
    }
    assert len(receive) == len(subscriptions)
    for sub in subscriptions:
        channel_id = next(key for key, ch in document["channels"].items() if ch["address"] == sub.topic)
        operation = receive[f"{sub.service}/#/channels/{channel_id}"]
        listed = {ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]}
        assert listed == {cls.__name__[:1].lower() + cls.__name__[1:] for cls in sub.handles}
        assert sub.consumer in document["channels"][channel_id]["description"]


def test_a_registration_that_handles_a_type_shows_up_and_one_removed_disappears() -> None:
    from rapport_common.application.handlers import EventHandlers
    from rapport_common.events.intake import ClientRegistered

    handlers = EventHandlers(service="probe", consumer="probe-intake", topic="intake.events", summary="a probe")
    handlers.on(ClientRegistered)(_noop)
    with_probe = build_document([handlers.subscription])
    summaries = [op["summary"] for op in with_probe["operations"].values()]
    assert any(
        s.startswith("probe (consumer `probe-intake`) handles `rapport.intake.client-registered`") for s in summaries
    )
    assert not any(s.startswith("probe ") for s in (op["summary"] for op in build_document([])["operations"].values()))


async def _noop(*_: Any) -> None:
    return None
