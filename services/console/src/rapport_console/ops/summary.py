"""The operators' summary: totals per topic, group, rule and service from whitelisted samples, plus rates
against an earlier scrape kept in memory (counters are cumulative; a rate needs two points in time).

Pure functions over samples; the route does the scraping. Nothing here can name a client: every output
key is a whitelisted label (see :mod:`rapport_console.ops.metrics_text`).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapport_console.ops.metrics_text import Sample

#: counters whose rates the page shows, keyed by the labels kept for the rate
Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Snapshot:
    at: float
    counters: dict[Key, float]


def counter_totals(samples: Iterable[Sample]) -> dict[Key, float]:
    """Sum of each counter sample over its (already reduced) labels, across services and replicas."""
    totals: dict[Key, float] = defaultdict(float)
    for sample in samples:
        if sample.name.endswith("_total"):
            totals[(sample.name, sample.labels)] += sample.value
    return dict(totals)


@dataclass
class RateHistory:
    """Earlier snapshots of the counters, so rates are over a window of up to ``window_s`` seconds."""

    window_s: float = 30.0
    min_span_s: float = 1.0
    snapshots: deque[Snapshot] = field(default_factory=deque)

    def rates(self, now: Snapshot) -> tuple[dict[Key, float], float | None]:
        """Per-second rates of every counter against the oldest snapshot in the window; then remember ``now``."""
        while len(self.snapshots) > 1 and now.at - self.snapshots[1].at >= self.window_s:
            self.snapshots.popleft()
        base = self.snapshots[0] if self.snapshots else None
        rates: dict[Key, float] = {}
        span: float | None = None
        if base is not None and now.at - base.at >= self.min_span_s:
            span = now.at - base.at
            for key, value in now.counters.items():
                before = base.counters.get(key, 0.0)
                delta = value - before if value >= before else value  # a restarted service resets its counters
                rates[key] = delta / span
        self.snapshots.append(now)
        return rates, span


def _sum_by(samples: Iterable[Sample], name: str, labels: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for sample in samples:
        if sample.name == name:
            out[tuple(sample.label(label) for label in labels)] += sample.value
    return dict(out)


def _rate_by(rates: dict[Key, float], name: str, labels: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for (sample_name, sample_labels), rate in rates.items():
        if sample_name == name:
            values = dict(sample_labels)
            out[tuple(values.get(label, "") for label in labels)] += rate
    return dict(out)


def summarise(
    samples: list[Sample], rates: dict[Key, float], span_s: float | None, health: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The page's numbers. Rates are ``None`` until two scrapes at least a second apart exist."""

    def rate(table: dict[tuple[str, ...], float], key: tuple[str, ...]) -> float | None:
        return None if span_s is None else round(table.get(key, 0.0), 3)

    published = _sum_by(samples, "rapport_outbox_published_total", ("topic",))
    consumed = _sum_by(samples, "rapport_kafka_records_consumed_total", ("topic",))
    published_rate = _rate_by(rates, "rapport_outbox_published_total", ("topic",))
    consumed_rate = _rate_by(rates, "rapport_kafka_records_consumed_total", ("topic",))
    topics = sorted({key for key in (*published, *consumed)})
    lag = _sum_by(samples, "rapport_kafka_consumer_lag", ("service", "group"))
    raised = _sum_by(samples, "rapport_alliance_alerts_raised_total", ("rule", "severity"))
    raised_rate = _rate_by(rates, "rapport_alliance_alerts_raised_total", ("rule", "severity"))
    dead = _sum_by(samples, "rapport_kafka_records_dead_lettered_total", ("topic", "reason"))
    pending = _sum_by(samples, "rapport_outbox_pending", ("service",))
    requests = _sum_by(samples, "rapport_http_requests_total", ("service", "status"))
    holds = sum(s.value for s in samples if s.name == "rapport_alliance_consent_holds")
    return {
        "window_s": None if span_s is None else round(span_s, 1),
        "topics": [
            {
                "topic": topic,
                "published_total": int(published.get(key := (topic,), 0)),
                "published_per_s": rate(published_rate, key),
                "consumed_total": int(consumed.get(key, 0)),
                "consumed_per_s": rate(consumed_rate, key),
            }
            for (topic,) in topics
        ],
        "consumer_lag": [
            {"service": service, "group": group, "lag": int(value)} for (service, group), value in sorted(lag.items())
        ],
        "alerts": [
            {
                "rule": rule,
                "severity": severity,
                "raised_total": int(value),
                "per_min": None if span_s is None else round(raised_rate.get((rule, severity), 0.0) * 60, 2),
            }
            for (rule, severity), value in sorted(raised.items())
        ],
        "consent_holds": int(holds),
        "dead_letters": [
            {"topic": topic, "reason": reason, "count": int(value)} for (topic, reason), value in sorted(dead.items())
        ],
        "outbox_pending": [
            {"service": service, "pending": int(value)} for (service,), value in sorted(pending.items())
        ],
        "http": [
            {"service": service, "status": status, "count": int(value)}
            for (service, status), value in sorted(requests.items())
        ],
        "services": [{"service": name, **state} for name, state in health.items()],
    }
