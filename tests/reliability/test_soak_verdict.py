"""The soak runner's pure parts: reading status counts out of /metrics text, and the memory-growth figure."""

from __future__ import annotations

from soak.run import growth_mb, http_statuses

METRICS = """# HELP rapport_http_requests_total HTTP requests handled
# TYPE rapport_http_requests_total counter
rapport_http_requests_total{method="POST",route="/messages",service="session",status="201"} 12.0
rapport_http_requests_total{method="GET",route="/readyz",service="session",status="200"} 40.0
rapport_http_requests_total{method="POST",route="/sessions",service="session",status="503"} 2.0
rapport_http_request_duration_seconds_count{method="POST",route="/messages",service="session"} 12.0
"""


def test_statuses_are_read_per_route_without_health_probes() -> None:
    assert http_statuses(METRICS) == {"session POST /messages 201": 12, "session POST /sessions 503": 2}


def test_growth_compares_the_last_quarter_with_the_second() -> None:
    flat = [{"rss_mb": {"s": 100.0 + (i % 2)}} for i in range(16)]
    leaking = [{"rss_mb": {"s": 100.0 + 5 * i}} for i in range(16)]
    assert abs(growth_mb(flat, "s") or 0) <= 1
    assert (growth_mb(leaking, "s") or 0) >= 40
    assert growth_mb(flat[:5], "s") is None  # too few samples to say
