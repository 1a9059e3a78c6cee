"""Prometheus metrics every service exports on ``/metrics``. Labels never carry client identifiers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "rapport_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "rapport_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RECORDS_CONSUMED = Counter("rapport_kafka_records_consumed_total", "Records consumed", ["service", "group", "topic"])
RECORDS_DEAD_LETTERED = Counter(
    "rapport_kafka_records_dead_lettered_total", "Records sent to a DLQ", ["service", "topic", "reason"]
)
CONSUMER_LAG = Gauge(
    "rapport_kafka_consumer_lag", "Records behind the high watermark", ["service", "group", "topic", "partition"]
)
BATCH_DURATION = Histogram(
    "rapport_kafka_batch_duration_seconds",
    "Time to process one consumed batch, effects included",
    ["service", "group"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HANDLER_RETRIES = Counter(
    "rapport_kafka_handler_retries_total", "Transient failures retried with backoff", ["service", "group"]
)
OUTBOX_PENDING = Gauge("rapport_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("rapport_outbox_published_total", "Outbox rows published", ["service", "topic"])
