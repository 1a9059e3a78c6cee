"""Grafana dashboard, Prometheus scrape config and rules, OTel collector: valid, and naming metrics the code exports."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

# PromQL words that are not metric names
_PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "histogram_quantile", "topk", "bottomk",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
    "label_values", "abs", "clamp_min", "clamp_max", "delta", "deriv", "time", "vector", "scalar", "le",
    "quantile", "stddev", "count_over_time", "max_over_time", "avg_over_time", "absent", "label_replace",
}  # fmt: skip
#: series Prometheus makes itself, not the services
_PROMETHEUS_SERIES = {"up"}


def _dashboard(deploy: Any) -> dict[str, Any]:
    return json.loads((deploy.DEPLOY / "grafana" / "dashboards" / "rapport.json").read_text(encoding="utf-8"))


def _dashboard_queries(deploy: Any) -> list[str]:
    board = _dashboard(deploy)
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for var in board.get("templating", {}).get("list", []):
        query = var.get("query")
        if isinstance(query, dict):
            queries.append(query.get("query", ""))
    return queries


def _rule_queries(deploy: Any) -> list[str]:
    queries = []
    for path in sorted((deploy.DEPLOY / "prometheus" / "rules").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        queries += [rule["expr"] for group in doc["groups"] for rule in group["rules"]]
    return queries


def _strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def _problems(expr: str, exported: dict[str, Any]) -> list[str]:
    """Metric names and label names of ``expr`` that the code does not export."""
    problems = []
    body = _strip_strings(expr)
    # Grafana's label_values(metric, label): the second argument is a label of the metric
    for metric, label in re.findall(r"label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)", body):
        if metric in exported and label not in exported[metric].labels:
            problems.append(f"{metric} has no label {label!r}")
    body = re.sub(r"label_values\(\s*(\w+)\s*,\s*\w+\s*\)", r"\1", body)
    body = re.sub(r"\[[^\]]*\]", "", body)  # range selectors [5m], [$__rate_interval]
    body = re.sub(r"\$\w+", "", body)
    used_metrics = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", body):
        name, selector = match.group(1), match.group(2) or ""
        after = body[match.end() :].lstrip()
        if name in _PROMQL_WORDS or after.startswith("("):
            continue
        if re.fullmatch(r"\d.*", name):
            continue
        # label names inside by (...) / without (...) are handled below
        before = body[: match.start()].rstrip()
        if re.search(r"(?:by|without|on|ignoring)\s*\([^)]*$", before):
            continue
        if name in _PROMETHEUS_SERIES:
            continue
        if name not in exported:
            problems.append(f"metric {name} is not exported by the code")
            continue
        used_metrics.add(name)
        labels = set(exported[name].labels) | ({"le"} if name.endswith("_bucket") else set())
        for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", selector):
            if label not in labels:
                problems.append(f"{name} has no label {label!r} (labels: {sorted(labels)})")
    available = {"le", "instance", "job"}
    for name in used_metrics:
        available |= set(exported[name].labels)
    for group in re.findall(r"(?:by|without)\s*\(([^)]*)\)", body):
        for label in (x.strip() for x in group.split(",")):
            if label and label not in available:
                problems.append(f"aggregation by {label!r}: no metric of the query has that label")
    return problems


def test_dashboard_is_valid_grafana_json(deploy: Any) -> None:
    board = _dashboard(deploy)
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 30
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        assert {"type", "title", "gridPos"} <= set(panel), panel.get("title")
        if panel["type"] != "row":
            assert panel["targets"], f"panel {panel['title']!r} has no query"
            for target in panel["targets"]:
                assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_dashboard_covers_what_operators_need(deploy: Any) -> None:
    queries = "\n".join(_dashboard_queries(deploy))
    for needed in (
        "rapport_kafka_records_consumed_total",  # throughput per topic
        "rapport_kafka_consumer_lag",  # lag
        "rapport_kafka_records_dead_lettered_total",  # DLQ
        "rapport_outbox_pending",  # outbox backlog
        "rapport_http_request_duration_seconds_bucket",  # latency histograms
        "rapport_alliance_alerts_raised_total",  # alert rates by rule / severity
    ):
        assert needed in queries, f"the dashboard has no panel on {needed}"
    assert re.search(r"by \(rule\)", queries) and re.search(r"by \(severity\)", queries)
    assert re.search(r"by \(topic\) \(rate\(rapport_kafka_records_consumed_total", queries)


def test_dashboard_queries_name_exported_metrics_and_labels(deploy: Any) -> None:
    exported = deploy.exported_metrics()
    problems = [f"{q!r}: {p}" for q in _dashboard_queries(deploy) for p in _problems(q, exported)]
    assert not problems, "\n".join(sorted(set(problems)))


def test_prometheus_rules_name_exported_metrics_and_labels(deploy: Any) -> None:
    exported = deploy.exported_metrics()
    queries = _rule_queries(deploy)
    assert queries
    problems = [f"{q!r}: {p}" for q in queries for p in _problems(q, exported)]
    assert not problems, "\n".join(sorted(set(problems)))


def test_metric_reader_finds_the_common_metrics(deploy: Any) -> None:
    """Guards the checks above: the source scan sees the shared metrics with their labels."""
    exported = deploy.exported_metrics()
    assert exported["rapport_http_requests_total"].labels == ("service", "method", "route", "status")
    assert "rapport_http_request_duration_seconds_bucket" in exported
    assert exported["rapport_kafka_consumer_lag"].kind == "Gauge"
    assert _problems("sum by (nope) (rate(rapport_http_requests_total[5m]))", exported)
    assert _problems('rapport_not_a_metric{service="x"}', exported)
    assert _problems('rapport_outbox_pending{topic="x"}', exported)
    assert _problems("label_values(rapport_outbox_pending, topic)", exported)
    assert not _problems("label_values(rapport_outbox_pending, service)", exported)
    assert not _problems(
        'sum by (le) (rate(rapport_http_request_duration_seconds_bucket{service=~"$service"}[5m]))', exported
    )


def test_prometheus_scrapes_every_rapport_service(deploy: Any) -> None:
    config = yaml.safe_load((deploy.DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = set()
    for job in config["scrape_configs"]:
        for sc in job.get("static_configs", []):
            targets |= set(sc["targets"])
        for sd in job.get("dns_sd_configs", []):
            targets |= {f"{name}:{sd['port']}" for name in sd["names"]}
    compose = deploy.compose_config()
    for name in deploy.compose_rapport_services(compose):
        assert f"{name}:{deploy.CONTAINER_PORT}" in targets, f"Prometheus does not scrape {name}"
    assert "otel-collector:8888" in targets
    mounts = " ".join(str(v) for v in compose["services"]["prometheus"]["volumes"])
    assert "deploy/prometheus:/etc/prometheus" in mounts
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard(deploy: Any) -> None:
    grafana = deploy.DEPLOY / "grafana"
    datasources = yaml.safe_load((grafana / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    board = _dashboard(deploy)
    (ds_var,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert ds_var["current"]["value"] == source["uid"]
    providers = yaml.safe_load((grafana / "provisioning" / "dashboards" / "rapport.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    mounts = [str(v) for v in deploy.compose_config()["services"]["grafana"]["volumes"]]
    assert any(m.endswith(f"deploy/grafana/dashboards:{path}:ro") for m in mounts), mounts


def test_otel_collector_receives_what_the_services_send(deploy: Any) -> None:
    collector = yaml.safe_load((deploy.DEPLOY / "otel" / "collector.yaml").read_text(encoding="utf-8"))
    http = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http.endswith(":4318")
    assert collector["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]
    assert "health_check" in collector["service"]["extensions"]
    assert collector["extensions"]["health_check"]["endpoint"].endswith(":13133")
    compose = deploy.compose_config()
    tracing = 0
    for name, service in deploy.compose_rapport_services(compose).items():
        if "OTEL_EXPORTER_OTLP_ENDPOINT" not in deploy.settings_of(service).names:
            continue  # e.g. the console: it reads no OTLP setting, so it sends no traces
        tracing += 1
        assert compose["services"][name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert tracing >= 4, "the four event-driven services must send traces to the collector"
