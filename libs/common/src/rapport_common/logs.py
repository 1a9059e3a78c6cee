"""Structured JSON logs. Only whitelisted, non-clinical fields are ever emitted: never payload data."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

#: extra fields a log call may carry; anything else passed via ``extra`` is dropped
SAFE_FIELDS = frozenset(
    {
        "event_id",
        "event_type",
        "topic",
        "partition",
        "offset",
        "count",
        "group",
        "reason",
        "field",
        "attempt",
        "delay_s",
        "duration_ms",
        "status",
        "method",
        "route",
        "rule",
        "alert_id",
        "migration",
        "request_id",
    }
)

#: the id of the HTTP request being served (set by ``rapport_common.http``): every log line written while
#: serving it carries it, so logs, the answer's ``X-Request-ID`` and what the service stored correlate
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"
        if (request_id := REQUEST_ID.get()) is not None:
            entry["request_id"] = request_id
        for name in SAFE_FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route all logging (ours, uvicorn's, aiokafka's) through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx/httpcore log every request URL at INFO, and URLs carry client ids (?client_id=...): never below WARNING
    for noisy in ("uvicorn.access", "aiokafka", "kafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
