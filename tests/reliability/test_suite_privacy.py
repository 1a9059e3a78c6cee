"""Privacy of the operational exhaust: after a realistic workload whose free text is marked, nothing that a
client wrote (goals, concerns, messages, SRS comments), no clinician name, and no client id appears in the
services' logs, trace spans, ``/metrics`` or dead-letter headers.

In-process suite: logs are the JSON lines the services' own formatter produces (records of the test's own
HTTP client, logger ``httpx``, are excluded here because that logger is shared in-process; the subprocess
check in ``test_stack_faults.py`` reads the services' real stdout, httpx lines included). Spans come
from an in-memory exporter added to the global tracer provider.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rapport_common.events import intake
from rapport_common.events.catalog import TOPICS, dlq_topic
from rapport_common.events.codec import encode_event
from rapport_common.events.examples import example_event
from rapport_common.kafka.reading import topic_partitions
from soak.workload import Expected, run_pairs
from soak.world import MARKER, make_team, wait_for_alert

TEST_SIDE_LOGGERS = ("httpx", "httpcore")


@pytest.fixture(scope="module")
async def exhaust(suite: Any) -> dict[str, Any]:
    """Run the workload once, then gather every kind of exhaust."""
    suite.exporter.clear()
    start_line = len(suite.logs.lines)
    api = suite.api
    expected = Expected()
    team = await make_team(api, 2)
    expected.secrets |= {f"{MARKER}name{i}" for i in range(2)}
    pairs = await run_pairs(api, team, pairs=3, rounds=2, expected=expected, concurrency=3)
    for (rule, client), count in expected.alerts.items():
        audience = ("compliance", "auditor") if rule == "off-platform-contact" else None
        pair = next(p for p in pairs if p.client == client)
        role, subject = audience or ("clinician", pair.clinician)
        await wait_for_alert(api, role, subject, rule=rule, client_id=client, count=count)
    dlq_records = await _poison_intake_events(suite, pairs[0].client)
    lines = [line for line in suite.logs.lines[start_line:] if json.loads(line).get("logger") not in TEST_SIDE_LOGGERS]
    spans = [span.to_json() for span in suite.exporter.get_finished_spans()]
    metrics = {name: await api.metrics_text(name) for name in suite.services}
    return {"expected": expected, "logs": lines, "spans": spans, "metrics": metrics, "dlq": dlq_records}


async def _poison_intake_events(suite: Any, client: str) -> list[dict[str, str]]:
    """Malformed records about a real client (its id as key and in the payload, marked text in fields), so
    that session, consent and the monitor dead-letter them; returns the DLQ headers they wrote."""
    good = json.loads(encode_event(example_event(intake.ClientRegistered, subject=client)).value)
    bad_values = [
        {**good, "id": str(uuid.uuid4()), "data": {**good["data"], "age_band": f"{MARKER}adultish"}},
        {**good, "id": str(uuid.uuid4()), "time": f"{MARKER}-{client}"},
        {**good, "id": str(uuid.uuid4()), "data": {**good["data"], "timezone": {"zone": f"{MARKER}{client}"}}},
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=suite.kafka, enable_auto_commit=False)
    await consumer.start()
    dlq = dlq_topic("intake.events")
    partitions = await topic_partitions(consumer, [dlq])
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    producer = AIOKafkaProducer(bootstrap_servers=suite.kafka)
    await producer.start()
    try:
        for value in bad_values:
            await producer.send_and_wait(
                "intake.events",
                value=json.dumps(value).encode(),
                key=client.encode(),
                headers=[("content-type", b"application/cloudevents+json")],
            )
    finally:
        await producer.stop()
    headers: list[dict[str, str]] = []
    try:
        for _ in range(100):  # three consumer groups read intake.events: 3 x 3 dead letters
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                for record in batch:
                    if record.key == client.encode():
                        headers.append({k: v.decode("utf-8", "replace") for k, v in record.headers})
            if len(headers) >= 9:
                break
    finally:
        await consumer.stop()
    # at least the suite's three groups; a service of another test module still consuming intake.events on the
    # shared broker dead-letters them too (its headers are checked for privacy all the same)
    assert len(headers) >= 9, f"expected >= 9 dead letters (3 records x 3 consumer groups), got {len(headers)}"
    return headers


def _hits(texts: list[str], secrets: set[str]) -> list[str]:
    found = []
    for text in texts:
        for secret in secrets:
            if secret in text or (secret.startswith(MARKER) and MARKER in text):
                found.append(f"{secret[:40]!r} in {text[:300]}")
                break
    return found


def test_the_workload_really_wrote_what_is_searched_for(exhaust: dict[str, Any]) -> None:
    expected: Expected = exhaust["expected"]
    assert sum(1 for s in expected.secrets if s.startswith("client-")) == 3
    assert sum(1 for s in expected.secrets if s.startswith(MARKER)) >= 6
    assert len(exhaust["logs"]) >= 10 and len(exhaust["spans"]) > 100  # the exhaust is not empty
    assert all(TOPICS)  # contract loaded


def test_logs_carry_no_client_text_names_or_ids(exhaust: dict[str, Any]) -> None:
    assert _hits(exhaust["logs"], exhaust["expected"].secrets) == []


def test_metrics_carry_no_client_text_names_or_ids(exhaust: dict[str, Any]) -> None:
    texts = [line for text in exhaust["metrics"].values() for line in text.splitlines()]
    assert len(texts) > 100
    assert _hits(texts, exhaust["expected"].secrets) == []


def test_dead_letter_headers_carry_no_client_text_or_ids(exhaust: dict[str, Any]) -> None:
    """The DLQ keeps the original record (that is its job); its *headers* say why, never what."""
    texts = [json.dumps(headers) for headers in exhaust["dlq"]]
    assert {headers["dlq-reason"] for headers in exhaust["dlq"]} == {"invalid-field"}
    assert _hits(texts, exhaust["expected"].secrets) == []


def test_trace_spans_carry_no_client_written_text_or_names(exhaust: dict[str, Any]) -> None:
    markers = {secret for secret in exhaust["expected"].secrets if secret.startswith(MARKER)}
    assert _hits(exhaust["spans"], markers) == []


def test_trace_spans_carry_no_client_ids(exhaust: dict[str, Any]) -> None:
    """Regression: server spans carried the raw URL (http.target, http.url: ids in paths, client_id=... in
    query strings); they are redacted to the route template now."""
    ids = {secret for secret in exhaust["expected"].secrets if secret.startswith("client-")}
    where: dict[str, int] = {}
    for text in exhaust["spans"]:
        span = json.loads(text)
        for key, value in (span.get("attributes") or {}).items():
            if any(client in str(value) for client in ids):
                name = f"{span['name']} :: {key}"
                where[name] = where.get(name, 0) + 1
        if any(client in span["name"] for client in ids):
            where[f"span name {span['name']}"] = where.get(f"span name {span['name']}", 0) + 1
    print(json.dumps(where, indent=1, sort_keys=True))
    assert where == {}, f"client ids in span attributes: {sorted(where)[:8]}"
