"""Generate the AsyncAPI 3.0.0 document of the event contract from the pydantic models.

Who consumes what comes from the services' own handler registrations: each service declares its
subscriptions (:class:`rapport_common.application.handlers.Subscription`) under the ``rapport.subscriptions``
entry point group, and each becomes a ``receive`` operation listing the types that service handles.

The document is never edited by hand (EVENTS.md): ``python -m rapport_common.events.asyncapi`` writes
``docs/asyncapi.yaml`` and ``--check`` exits 1 when the committed file no longer matches the models, so the
published contract cannot drift from the code. Output is deterministic: no timestamps, fixed example ids.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic.json_schema import models_json_schema

from rapport_common.events import alerts, consent, feedback, intake, session
from rapport_common.events.catalog import BASELINE_ORS_SOURCE, EVENT_CLASSES, OWNER_OF_TOPIC, TOPICS, dlq_topic
from rapport_common.events.codec import (
    CONTENT_TYPE,
    ID_HEADER,
    TYPE_HEADER,
    EventDecodeError,
    decode_event,
    encode_event,
)
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.examples import EXAMPLES, example_event

if TYPE_CHECKING:
    from rapport_common.application.handlers import Subscription

ASYNCAPI_VERSION = "3.0.0"
#: the entry point group under which each service lists its subscriptions (a tuple of Subscription)
SUBSCRIPTIONS_GROUP = "rapport.subscriptions"
DOCUMENT_PATH = Path("docs/asyncapi.yaml")
REGENERATE_COMMAND = "uv run python -m rapport_common.events.asyncapi"
KAFKA_BINDING_VERSION = "0.4.0"

#: envelope attributes the contract requires; pydantic leaves defaulted ones (specversion, type) optional
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "data")

PRODUCERS: dict[str, str] = {
    intake.TOPIC: "intake",
    consent.TOPIC: "consent",
    session.TOPIC: "session",
    feedback.TOPIC: "session (and intake for the baseline)",
    alerts.TOPIC: "alliance-monitor",
}

DLQ_HEADERS: dict[str, str] = {
    "dlq-reason": "why the record was rejected: the EventDecodeError reason code",
    "dlq-field": "path of the offending field, e.g. `data.items.overall`, or `value` for the record as a whole",
    "dlq-error": "the validator's message (truncated; never payload data)",
    "dlq-source-topic": "the topic the record was read from",
    "dlq-source-partition": "its partition, in decimal",
    "dlq-source-offset": "its offset, in decimal",
    "dlq-consumer-group": "the consumer group that rejected it",
}
DLQ_REASONS = (
    "invalid-field",
    "unknown-type",
    "invalid-json",
    "not-an-object",
    "invalid-content-type",
    "empty-value",
    "too-large",
    "foreign-source",
)
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"

DESCRIPTION = """\
The Rapport event contract (EVENTS.md), generated from the pydantic models in `rapport_common.events`.

Every record value is one CloudEvents 1.0 envelope in structured JSON mode (`content-type:
application/cloudevents+json`). The record key is the envelope `subject`: the client id (the clinician id
for `rapport.intake.clinician-registered`), so all events of one client keep their order inside a topic.
Timestamps are RFC 3339 with an offset; rules evaluate on the event `time`, never on arrival time.

Consumers are tolerant readers: they ignore attributes and fields they do not know and reject records whose
known fields are missing or invalid. Rules the JSON Schemas below cannot express are enforced too: SRS/ORS
items have at most one decimal and totals equal the item sum exactly; WAI subscales equal their item sums;
`*_end`/`*_until` times follow their starts; telemetry silence fits its window; timezones are IANA names.
A rejected record goes, untouched, to `<topic>.dlq` with `dlq-*` headers saying why.

Structured mode only: no header starts with `ce_` (by the CloudEvents Kafka binding that prefix means binary
mode). The routing headers `rapport-type` and `rapport-id` repeat the envelope's `type` and `id`; records
written before contract v1.1 carried them as `ce_type` and `ce_id`.

Topic ownership: each topic has one owner, named by `source` (intake also writes the baseline ORS on
`feedback.events`). Consumers dead-letter a record whose `type` does not belong to its topic or whose
`source` is not the topic's owner (reason `foreign-source`) and do nothing else with it.

Additive changes (a new optional field, a new event type) keep this version; renaming or removing anything
is breaking and needs a new `type` version."""


def registered_subscriptions() -> list[Subscription]:
    """Every installed service's subscriptions, ordered by service and consumer."""
    found: list[Subscription] = []
    for entry in entry_points(group=SUBSCRIPTIONS_GROUP):
        found.extend(entry.load())
    return sorted(found, key=lambda sub: (sub.service, sub.consumer))


def build_document(subscriptions: Sequence[Subscription] | None = None) -> dict[str, Any]:
    """The AsyncAPI document as plain data, ready to dump (subscriptions default to the registered ones)."""
    if subscriptions is None:
        subscriptions = registered_subscriptions()
    refs, schemas = _schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {"DeadLetter": _dead_letter_message()}
    for topic in TOPICS:
        classes = [cls for cls in EVENT_CLASSES if cls.topic == topic]
        channel_id, dlq_id = _camel(topic), _camel(dlq_topic(topic))
        channels[channel_id] = {
            "address": topic,
            "title": topic,
            "description": f"Produced by {PRODUCERS[topic]}: {_owner(topic)}. Key: the event subject."
            + _consumed_by(topic, subscriptions),
            "messages": {_message_id(cls): {"$ref": f"#/components/messages/{cls.__name__}"} for cls in classes},
            "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        channels[dlq_id] = {
            "address": dlq_topic(topic),
            "title": dlq_topic(topic),
            "description": f"Records of `{topic}` a consumer rejected, untouched, with `dlq-*` headers.",
            "messages": {"deadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {"kafka": {"topic": dlq_topic(topic), "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        channel_messages = [{"$ref": f"#/channels/{channel_id}/messages/{_message_id(cls)}"} for cls in classes]
        operations[f"publish{_pascal(topic)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{PRODUCERS[topic]} publishes to `{topic}` (through its outbox).",
            "messages": channel_messages,
        }
        operations[f"consume{_pascal(topic)}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"Consumers read `{topic}` as tolerant readers and dead-letter invalid or foreign records.",
            "messages": channel_messages,
        }
        operations[f"deadLetter{_pascal(topic)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{dlq_id}"},
            "summary": f"Any consumer of `{topic}` sends a record it cannot accept to `{dlq_topic(topic)}`.",
            "messages": [{"$ref": f"#/channels/{dlq_id}/messages/deadLetter"}],
        }
        for cls in classes:
            messages[cls.__name__] = _message(cls, refs[cls])
    for sub in subscriptions:
        service_id = _camel(sub.service.replace("-", "."))
        operations[f"{service_id}Consumes{_pascal(sub.topic)}"] = _subscription_operation(sub)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "Rapport events", "version": "1.0.0", "description": DESCRIPTION},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())), "messages": dict(sorted(messages.items()))},
    }


def render_document() -> str:
    """The document as the YAML text committed in docs/asyncapi.yaml."""
    header = f"# Generated from the models in rapport_common.events; do not edit. Regenerate: {REGENERATE_COMMAND}\n"
    body = yaml.dump(
        build_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False
    )
    return header + body


def repo_root() -> Path:
    """The uv workspace root this module lives in (where docs/ is)."""
    for parent in Path(__file__).resolve().parents:
        pyproject = parent / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text(encoding="utf-8"):
            return parent
    raise FileNotFoundError(f"no uv workspace root above {__file__}; pass --output")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the document, or with ``--check`` exit 1 when the file on disk is stale."""
    parser = argparse.ArgumentParser(
        prog="python -m rapport_common.events.asyncapi",
        description="Generate the AsyncAPI 3.0.0 document of the Rapport event contract.",
    )
    parser.add_argument("--output", type=Path, help=f"file to write or check (default: <repo>/{DOCUMENT_PATH})")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is stale")
    args = parser.parse_args(argv)
    output: Path = args.output or repo_root() / DOCUMENT_PATH
    text = render_document()
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current == text:
            print(f"{output} is up to date")
            return 0
        diff = list(
            difflib.unified_diff(current.splitlines(), text.splitlines(), str(output), "generated", lineterm="")
        )
        shown = "\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else "")
        print(
            f"{output} is out of date with the event models.\nRegenerate it with: {REGENERATE_COMMAND}\n{shown}",
            file=sys.stderr,
        )
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


def _schemas() -> tuple[dict[type[CloudEvent[Any]], str], dict[str, Any]]:
    """JSON Schema of every envelope class and what they reference, keyed for ``#/components/schemas``."""
    key_map, top = models_json_schema(
        [(cls, "validation") for cls in EVENT_CLASSES], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = top["$defs"]
    refs = {cls: key_map[(cls, "validation")]["$ref"] for cls in EVENT_CLASSES}
    for ref in refs.values():
        envelope = schemas[ref.rsplit("/", 1)[1]]
        envelope["required"] = [name for name in envelope["properties"] if name in REQUIRED_ATTRIBUTES]
    return refs, schemas


def _message(cls: type[CloudEvent[Any]], schema_ref: str) -> dict[str, Any]:
    event_type = cls.event_type()
    record = encode_event(EXAMPLES[event_type])
    subject = "the clinician id" if cls is intake.ClinicianRegistered else "the client id"
    message: dict[str, Any] = {
        "name": event_type,
        "title": cls.__name__,
        "summary": f"`{event_type}` on `{cls.topic}`.",
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {"type": "string", "const": CONTENT_TYPE},
                TYPE_HEADER: {"type": "string", "const": event_type, "description": "the envelope type, for routing"},
                ID_HEADER: {"type": "string", "description": "the envelope id, for routing and deduplication"},
                "traceparent": {
                    "type": "string",
                    "pattern": TRACEPARENT_PATTERN,
                    "description": "W3C trace context; sent when the envelope has one",
                },
            },
            "required": ["content-type", TYPE_HEADER, ID_HEADER],
        },
        "payload": {"$ref": schema_ref},
        "correlationId": {"description": "W3C trace context", "location": "$message.header#/traceparent"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the envelope subject: {subject}"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": "example",
                "summary": f"key `{record.key.decode()}`",
                "headers": {name: value.decode() for name, value in record.headers},
                "payload": json.loads(record.value),
            }
        ],
    }
    doc = next((c.__doc__ for c in (cls, cls.model_fields["data"].annotation) if c and c.__doc__), None)
    if doc:
        message["description"] = " ".join(doc.split()).replace("``", "`")
    return message


def _dead_letter_message() -> dict[str, Any]:
    headers: dict[str, Any] = {name: {"type": "string", "description": text} for name, text in DLQ_HEADERS.items()}
    headers["dlq-reason"]["examples"] = list(DLQ_REASONS)
    headers["dlq-source-partition"]["pattern"] = headers["dlq-source-offset"]["pattern"] = r"^\d+$"
    for name in ("content-type", TYPE_HEADER, ID_HEADER, "traceparent"):
        headers[name] = {"type": "string", "description": "kept from the original record"}
    return {
        "name": "dead-letter",
        "title": "DeadLetter",
        "summary": "A rejected record: original key, value and headers untouched, plus `dlq-*` headers.",
        "description": (
            "Only records that fail validation or topic ownership are dead-lettered; transient failures"
            " (database down) are retried, never dead-lettered. The value may be anything, including invalid"
            " JSON."
        ),
        "contentType": "application/octet-stream",
        "headers": {"type": "object", "properties": headers, "required": list(DLQ_HEADERS)},
        "payload": {"description": "the original record value, byte for byte"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original record key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [_dead_letter_example()],
    }


def _dead_letter_example() -> dict[str, Any]:
    """A real rejection: an SRS whose item is out of range, as the codec reports it."""
    record = encode_event(example_event(feedback.SrsSubmitted))
    value = json.loads(record.value)
    value["data"]["items"]["relationship"] = 10.5
    try:
        decode_event(json.dumps(value).encode(), record.headers)
    except EventDecodeError as exc:
        error = exc
    else:  # pragma: no cover - the example above is invalid by construction
        raise AssertionError("the dead-letter example must be rejected")
    why = {
        "dlq-reason": error.reason,
        "dlq-field": error.field,
        "dlq-error": error.message,
        "dlq-source-topic": record.topic,
        "dlq-source-partition": "3",
        "dlq-source-offset": "1207",
        "dlq-consumer-group": "alliance-monitor",
    }
    return {
        "name": "srs-item-out-of-range",
        "summary": "an SRS item above 10.0, rejected by the alliance-monitor",
        "headers": {**{name: value.decode() for name, value in record.headers}, **why},
        "payload": value,
    }


def _consumed_by(topic: str, subscriptions: Sequence[Subscription]) -> str:
    consumers = [f"{sub.service} (`{sub.consumer}`)" for sub in subscriptions if sub.topic == topic]
    return f" Consumed by {', '.join(consumers)}." if consumers else ""


def _subscription_operation(sub: Subscription) -> dict[str, Any]:
    channel_id = _camel(sub.topic)
    handled = sorted(sub.handles, key=lambda cls: cls.event_type())
    names = ", ".join(f"`{cls.event_type()}`" for cls in handled)
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "summary": f"{sub.service} (consumer `{sub.consumer}`) handles {names}: {sub.summary}.",
        "description": "From the service's handler registrations. Other types of the topic are acknowledged "
        "and ignored; invalid or foreign records are dead-lettered.",
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{_message_id(cls)}"} for cls in handled],
    }


def _owner(topic: str) -> str:
    owner = f"`source` `{OWNER_OF_TOPIC[topic]}`"
    if topic == feedback.TOPIC:
        owner += f" (`{BASELINE_ORS_SOURCE}` for a baseline `{feedback.OrsSubmitted.event_type()}`, `session_id` null)"
    return owner


def _pascal(address: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in address.split("."))


def _camel(address: str) -> str:
    pascal = _pascal(address)
    return pascal[:1].lower() + pascal[1:]


def _message_id(cls: type[CloudEvent[Any]]) -> str:
    return cls.__name__[:1].lower() + cls.__name__[1:]


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors/aliases for repeated objects, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)

if __name__ == "__main__":
    raise SystemExit(main())
