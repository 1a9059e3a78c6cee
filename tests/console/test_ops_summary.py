"""The operators' summary: only whitelisted metrics and labels survive, label values that are not machine
names are masked, totals and rates aggregate across services, and ``/ops/summary`` is for operators only."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from rapport_console.app import build_app
from rapport_console.ops.metrics_text import whitelisted_samples
from rapport_console.ops.summary import RateHistory, Snapshot, counter_totals, summarise

CLIENT = "client-7f3a9c"

INTAKE_METRICS = f"""\
# HELP rapport_outbox_published_total Outbox rows published
# TYPE rapport_outbox_published_total counter
rapport_outbox_published_total{{service="intake",topic="intake.events"}} 120.0
# HELP rapport_outbox_pending Outbox rows not yet published
# TYPE rapport_outbox_pending gauge
rapport_outbox_pending{{service="intake"}} 3.0
# HELP rapport_http_requests_total HTTP requests handled
# TYPE rapport_http_requests_total counter
rapport_http_requests_total{{method="GET",route="/clients/{{client_id}}/intake",service="intake",status="200"}} 7.0
# HELP rapport_intake_lookups_total a metric nobody whitelisted, with a client id label
# TYPE rapport_intake_lookups_total counter
rapport_intake_lookups_total{{client_id="{CLIENT}"}} 1.0
"""

MONITOR_METRICS = f"""\
# TYPE rapport_kafka_records_consumed_total counter
rapport_kafka_records_consumed_total{{group="monitor",service="monitor",topic="intake.events"}} 100.0
rapport_kafka_records_consumed_total{{group="monitor",service="monitor",topic="feedback.events"}} 40.0
# TYPE rapport_kafka_consumer_lag gauge
rapport_kafka_consumer_lag{{group="monitor",partition="0",service="monitor",topic="intake.events"}} 5.0
rapport_kafka_consumer_lag{{group="monitor",partition="1",service="monitor",topic="intake.events"}} 15.0
# TYPE rapport_kafka_records_dead_lettered_total counter
rapport_kafka_records_dead_lettered_total{{reason="invalid-json",service="monitor",topic="feedback.events"}} 2.0
rapport_kafka_records_dead_lettered_total{{reason="{CLIENT.upper()} X",service="monitor",topic="feedback.events"}} 1.0
# TYPE rapport_alliance_alerts_raised_total counter
rapport_alliance_alerts_raised_total{{rule="pulse-low",severity="medium",client="{CLIENT}"}} 4.0
rapport_alliance_alerts_raised_total{{rule="srs-below-cutoff",severity="medium"}} 1.0
# TYPE rapport_alliance_consent_holds gauge
rapport_alliance_consent_holds 2.0
"""


def test_whitelist_drops_unknown_metrics_and_labels() -> None:
    samples = whitelisted_samples(INTAKE_METRICS + MONITOR_METRICS)
    names = {s.name for s in samples}
    assert "rapport_intake_lookups_total" not in names
    assert {s.label("route") for s in samples} == {""}  # the route label is not on the whitelist
    assert CLIENT not in repr(samples) and CLIENT.upper() not in repr(samples)
    reasons = sorted(s.label("reason") for s in samples if s.name == "rapport_kafka_records_dead_lettered_total")
    assert reasons == ["invalid-json", "other"]  # a value that is not a machine name is masked
    raised = [s for s in samples if s.name == "rapport_alliance_alerts_raised_total"]
    assert {s.labels for s in raised} == {
        (("rule", "pulse-low"), ("severity", "medium")),
        (("rule", "srs-below-cutoff"), ("severity", "medium")),
    }


def test_unparsable_text_gives_nothing() -> None:
    assert whitelisted_samples("this is { not prometheus") == []


def test_summary_aggregates_and_rates() -> None:
    history = RateHistory(window_s=30, min_span_s=1)
    first = whitelisted_samples(INTAKE_METRICS + MONITOR_METRICS)
    rates, span = history.rates(Snapshot(at=100.0, counters=counter_totals(first)))
    assert (rates, span) == ({}, None)
    empty = summarise(first, rates, span, {})
    assert empty["topics"][0]["published_per_s"] is None and empty["window_s"] is None

    later_text = (
        (INTAKE_METRICS + MONITOR_METRICS)
        .replace('topic="intake.events"} 120.0', 'topic="intake.events"} 140.0')
        .replace('rule="srs-below-cutoff",severity="medium"} 1.0', 'rule="srs-below-cutoff",severity="medium"} 3.0')
    )
    later = whitelisted_samples(later_text)
    rates, span = history.rates(Snapshot(at=110.0, counters=counter_totals(later)))
    summary = summarise(later, rates, span, {"intake": {"status": "ready", "metrics": True}})
    assert summary["window_s"] == 10.0
    topics = {t["topic"]: t for t in summary["topics"]}
    assert topics["intake.events"]["published_total"] == 140
    assert topics["intake.events"]["published_per_s"] == 2.0
    assert topics["intake.events"]["consumed_total"] == 100 and topics["intake.events"]["consumed_per_s"] == 0.0
    assert topics["feedback.events"]["published_total"] == 0
    assert summary["consumer_lag"] == [{"service": "monitor", "group": "monitor", "lag": 20}]
    alerts = {a["rule"]: a for a in summary["alerts"]}
    assert alerts["srs-below-cutoff"] == {
        "rule": "srs-below-cutoff",
        "severity": "medium",
        "raised_total": 3,
        "per_min": 12.0,
    }
    assert summary["dead_letters"] == [
        {"topic": "feedback.events", "reason": "invalid-json", "count": 2},
        {"topic": "feedback.events", "reason": "other", "count": 1},
    ]
    assert summary["outbox_pending"] == [{"service": "intake", "pending": 3}]
    assert summary["consent_holds"] == 2
    assert summary["services"] == [{"service": "intake", "status": "ready", "metrics": True}]


def test_counter_reset_counts_from_zero() -> None:
    history = RateHistory(window_s=30, min_span_s=1)
    key = ("rapport_outbox_published_total", (("service", "x"), ("topic", "t")))
    history.rates(Snapshot(at=0.0, counters={key: 500.0}))
    rates, _ = history.rates(Snapshot(at=5.0, counters={key: 10.0}))  # the service restarted
    assert rates[key] == 2.0


def metrics_service(text: str, ready: bool = True) -> FastAPI:
    app = FastAPI()

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.get("/readyz")
    async def readyz() -> PlainTextResponse:
        return PlainTextResponse("{}", status_code=200 if ready else 503)

    return app


async def test_ops_summary_endpoint_is_for_operators_and_names_no_client(kit: Any, token: Any) -> None:
    async with (
        kit.serving(metrics_service(INTAKE_METRICS)) as intake,
        kit.serving(metrics_service(MONITOR_METRICS, ready=False)) as monitor,
    ):
        urls = {"intake": intake.url, "session": "http://127.0.0.1:9", "consent": intake.url, "alliance": monitor.url}
        async with (
            kit.serving(build_app(kit.console_settings(urls))) as console,
            httpx.AsyncClient(base_url=console.url) as http,
        ):
            operator = {"Authorization": f"Bearer {token('operator-01', 'operator')}"}
            assert (await http.get("/ops/summary")).status_code == 401
            for role in ("clinician", "compliance", "supervisor"):
                refused = await http.get("/ops/summary", headers={"Authorization": f"Bearer {token('u', role)}"})
                assert refused.status_code == 403, role
            answer = await http.get("/ops/summary", headers=operator)
            assert answer.status_code == 200
            summary = answer.json()
            assert CLIENT not in json.dumps(summary) and CLIENT.upper() not in json.dumps(summary)
            health = {s["service"]: s["status"] for s in summary["services"]}
            assert health == {"intake": "ready", "session": "down", "consent": "ready", "alliance-monitor": "not-ready"}
            # intake and consent point at the same server here: both scrapes count (one URL per service in practice)
            topics = {t["topic"]: t for t in summary["topics"]}
            assert topics["intake.events"]["published_total"] == 240
            assert topics["feedback.events"]["consumed_total"] == 40
