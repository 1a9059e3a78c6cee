"""Prometheus text -> the whitelisted samples the operators' page may show.

Our metrics never carry client identifiers (libs/common/metrics.py), but the operators' page is the one
place built for people who must not see client data, so it does not rely on that: only the metric names
and label names listed in :data:`WHITELIST` pass, and a label value that does not look like a short
machine name (topic, group, rule, status...) is replaced by ``"other"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

#: sample name -> label names kept (all other labels are dropped before aggregation)
WHITELIST: dict[str, tuple[str, ...]] = {
    "rapport_outbox_published_total": ("service", "topic"),
    "rapport_outbox_pending": ("service",),
    "rapport_kafka_records_consumed_total": ("service", "group", "topic"),
    "rapport_kafka_consumer_lag": ("service", "group", "topic"),
    "rapport_kafka_records_dead_lettered_total": ("service", "topic", "reason"),
    "rapport_alliance_alerts_raised_total": ("rule", "severity"),
    "rapport_alliance_alerts_resolved_total": ("rule",),
    "rapport_alliance_consent_holds": (),
    "rapport_http_requests_total": ("service", "status"),
}
#: label values allowed through unchanged: short lowercase machine names (topics, groups, rules, codes)
SAFE_VALUE = re.compile(r"^[a-z][a-z0-9._-]{0,79}$|^[0-9]{1,4}$")


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, name: str) -> str:
        return dict(self.labels).get(name, "")


def safe_value(value: str) -> str:
    return value if SAFE_VALUE.match(value) else "other"


def whitelisted_samples(text: str) -> list[Sample]:
    """The whitelisted samples of one ``/metrics`` answer, labels reduced; unparsable text gives []."""
    samples: list[Sample] = []
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError:
        return []
    for family in families:
        for sample in family.samples:
            keep = WHITELIST.get(sample.name)
            if keep is None or math.isnan(sample.value):
                continue
            labels = tuple(sorted((name, safe_value(sample.labels.get(name, ""))) for name in keep))
            samples.append(Sample(sample.name, labels, float(sample.value)))
    return samples
