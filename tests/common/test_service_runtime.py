"""The shared service runtime against real infrastructure: health and readiness, field-named 422s, metrics,
and one trace from an HTTP request through the outbox and the topic into a consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel, Field

from rapport_common.db import inbox, outbox
from rapport_common.events import new_event
from rapport_common.events.feedback import PulseSubmitted, PulseSubmittedData
from rapport_common.kafka.consumer import BatchConsumer, ConsumedEvent
from rapport_common.service import ServiceRuntime, ServiceSpec, create_app, no_parts
from rapport_common.settings import ServiceSettings
from rapport_common.telemetry import current_traceparent, event_span, setup_tracing

SPANS = InMemorySpanExporter()
router = APIRouter()
received: list[tuple[str, str]] = []


class PulseIn(BaseModel):
    client_id: str = Field(min_length=1)
    score: int = Field(ge=1, le=5)


@router.post("/pulses", status_code=201)
async def create_pulse(body: PulseIn, request: Request) -> dict[str, str]:
    runtime: ServiceRuntime = request.app.state.runtime
    event = new_event(
        PulseSubmitted,
        subject=body.client_id,
        source="/rapport/session",  # the owner of feedback.events
        traceparent=current_traceparent(),
        data=PulseSubmittedData(
            response_id=f"r-{body.client_id}",
            client_id=body.client_id,
            clinician_id="clin-1",
            session_id="s-1",
            question="felt-heard",
            score=body.score,
        ),
    )
    async with runtime.pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, [event])
    return {"event_id": event.id}


def _consumers(runtime: ServiceRuntime) -> list[BatchConsumer]:
    async def handle(batch: list[ConsumedEvent]) -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, "runtime-test", [c.event.id for c in batch])
        for consumed in batch:
            if consumed.event.id in new:
                with event_span("consume pulse", consumed.event) as span:
                    received.append((consumed.event.id, f"{span.get_span_context().trace_id:032x}"))

    return [
        BatchConsumer(
            service="runtime-test",
            group_id=f"runtime-test-{datetime.now(UTC).timestamp()}",
            topics=["feedback.events"],
            bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
            handler=handle,
            dead_letters=runtime.producer,
            session_timeout_ms=6000,
        )
    ]


@pytest.fixture
async def client(
    make_database: Any, kafka_bootstrap_servers: str, kafka_idempotence: bool
) -> AsyncIterator[httpx.AsyncClient]:
    setup_tracing("runtime-test", None, extra_processor=SimpleSpanProcessor(SPANS))
    settings = ServiceSettings(
        database_url=await make_database(),
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        kafka_enable_idempotence=kafka_idempotence,
        jwt_secret="s" * 32,
        outbox_poll_interval_s=0.2,
    )
    spec = ServiceSpec[ServiceSettings, None](
        name="runtime-test",
        settings_cls=ServiceSettings,
        migrations=None,
        compose=no_parts,
        routers=[router],
        consumers=_consumers,
    )
    app = create_app(spec, settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"database": True, "kafka": True, "consumers": True, "workers": True},
    }


async def test_validation_errors_name_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/pulses", json={"client_id": "c-1", "score": 9})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "body.score"
    assert body["detail"].startswith("body.score:")


async def test_metrics_use_route_templates(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'rapport_http_requests_total{method="GET",route="/healthz",service="runtime-test",status="200"}' in text


async def test_one_trace_spans_request_outbox_topic_and_consumer(client: httpx.AsyncClient) -> None:
    response = await client.post("/pulses", json={"client_id": "trace-client", "score": 2})
    assert response.status_code == 201
    event_id = response.json()["event_id"]
    async with asyncio.timeout(30):
        while not any(eid == event_id for eid, _ in received):
            await asyncio.sleep(0.05)
    consumer_trace = next(trace_id for eid, trace_id in received if eid == event_id)
    request_spans = [s for s in SPANS.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    request_traces = {f"{s.context.trace_id:032x}" for s in request_spans}
    assert consumer_trace in request_traces, "the consumer continued the HTTP request's trace"


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("GET", "/healthz/%00x", None, "path"),
        ("GET", "/metrics?client_id=a%00b", None, "query"),
        ("POST", "/pulses", '{"client_id": "c\\u0000", "score": 2}', "body.client_id"),
    ],
)
async def test_nul_characters_are_refused_with_422_not_500(
    client: httpx.AsyncClient, method: str, path: str, body: str | None, where: str
) -> None:
    response = await client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"] == f"{where}: must not contain NUL characters"


async def test_server_spans_carry_the_route_template_not_the_raw_url(client: httpx.AsyncClient) -> None:
    await client.post("/pulses?client_id=span-client", json={"client_id": "span-client", "score": 4})
    spans = [s for s in SPANS.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert spans
    for span in spans:
        attributes = dict(span.attributes or {})
        assert "span-client" not in str(attributes), attributes
        assert attributes.get("http.route") in (None, "/pulses", "/healthz", "/metrics", "/readyz")
