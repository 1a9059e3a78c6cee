"""Replay and backtest: which alerts would the rules have raised over the recorded history, under a config?

    python -m rapport_alliance_monitor.backtest --bootstrap-servers HOST:PORT [--rules a.yaml]
        [--compare-rules b.yaml] [--since ISO] [--until ISO] [--out report.md] [--topics t1,t2,...]

For a clinical lead tuning thresholds before changing them. The input topics are read from the beginning
by a plain consumer (no group, nothing committed: read-only for the running monitor), decoded with the
contract codec, and replayed through the pure engine in memory, keyed like the service keys its state
rows (client, clinician, client-clinician pair). Nothing is written anywhere.

The whole history is known, so consent is decided with ``hold_expired=True``, and every client's consent
events are applied before the events they gate (the gate judges each event at its own event time against
the consent timeline, so this gives the answer the service reaches once every consent has arrived). All
other events are applied in event-time order. Alert ids are deterministic (rule + anchor), so the same
alert under two configs has the same id, which is what the comparison matches on.

``--since``/``--until`` bound the replay: events after ``until`` are not replayed, events before ``since``
build state but the alerts they raise are not reported.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rapport_alliance_monitor.domain import (
    AlertDecision,
    ClientState,
    ClinicianState,
    MonitorState,
    PairState,
    Raise,
    Resolve,
    RulesConfig,
    Update,
    decide,
    evaluate,
    load_rules_config,
    state_keys,
)
from rapport_alliance_monitor.domain.config import DEFAULT_RULES_PATH
from rapport_alliance_monitor.domain.order import replay_key
from rapport_alliance_monitor.settings import DEFAULT_TOPICS
from rapport_common.events import EventDecodeError, decode_event
from rapport_common.events.envelope import CloudEvent


@dataclass
class ReplayedAlert:
    """One alert the replay raised, with what later happened to it in the replay."""

    alert_id: str
    rule: str
    severity: str
    audience: str
    client_id: str
    clinician_id: str
    session_id: str | None
    at: datetime
    evidence: list[str]
    resolved_at: datetime | None = None


@dataclass
class BacktestResult:
    """The alerts raised (in raise order), every decision, and how many events were replayed/skipped."""

    alerts: list[ReplayedAlert] = field(default_factory=list)
    decisions: list[AlertDecision] = field(default_factory=list)
    replayed: int = 0
    duplicates: int = 0

    def counts(self) -> Counter[str]:
        return Counter(alert.rule for alert in self.alerts)

    def by_id(self) -> dict[str, ReplayedAlert]:
        return {alert.alert_id: alert for alert in self.alerts}


def replay_order(events: Iterable[CloudEvent[Any]]) -> list[CloudEvent[Any]]:
    """Each event once (first copy of an id), in the order the live monitor judges them
    (:mod:`rapport_alliance_monitor.domain.order`); pass each topic's events in offset order."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            unique.append(event)
    return sorted(unique, key=replay_key)


def backtest(
    events: Iterable[CloudEvent[Any]],
    config: RulesConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> BacktestResult:
    """Replay ``events`` through the engine under ``config``; pure (no I/O), deterministic."""
    events = list(events)
    ordered = replay_order(events)
    result = BacktestResult(duplicates=len(events) - len(ordered))
    clients: dict[str, ClientState] = {}
    clinicians: dict[str, ClinicianState] = {}
    pairs: dict[tuple[str, str], PairState] = {}
    raised: dict[str, ReplayedAlert] = {}
    for event in ordered:
        if until is not None and event.time >= until:
            continue
        keys = state_keys(event)
        pair_key = (keys.client_id or "", keys.clinician_id or "")
        before = MonitorState(
            client=clients.get(keys.client_id) if keys.client_id else None,
            pair=pairs.get(pair_key) if keys.pair else None,
            clinician=clinicians.get(keys.clinician_id) if keys.clinician_id else None,
        )
        decision = decide(before.client, event, hold_expired=True)
        after = evaluate(before, event, config, consent_decision=decision)
        new = after.new_state
        if new.client is not None:
            clients[new.client.client_id] = new.client
        if new.clinician is not None:
            clinicians[new.clinician.clinician_id] = new.clinician
        if keys.pair and new.pair is not None:
            pairs[pair_key] = new.pair
        result.replayed += 1
        if since is not None and event.time < since:
            continue
        for d in after.decisions:
            result.decisions.append(d)
            if isinstance(d, Raise):
                alert = ReplayedAlert(
                    alert_id=d.alert_id,
                    rule=d.rule,
                    severity=d.severity,
                    audience=d.audience,
                    client_id=d.client_id,
                    clinician_id=d.clinician_id,
                    session_id=d.session_id,
                    at=d.at,
                    evidence=list(d.evidence),
                )
                if d.alert_id not in raised:
                    raised[d.alert_id] = alert
                    result.alerts.append(alert)
            elif isinstance(d, Update) and d.alert_id in raised:
                known = raised[d.alert_id].evidence
                known += [e for e in d.added_evidence if e not in known]
            elif isinstance(d, Resolve) and d.alert_id in raised:
                raised[d.alert_id].resolved_at = d.at
    return result


@dataclass
class Comparison:
    """Alerts raised only under config A, only under B, and under both (matched by alert id)."""

    only_a: list[ReplayedAlert]
    only_b: list[ReplayedAlert]
    both: int


def compare(a: BacktestResult, b: BacktestResult) -> Comparison:
    ids_a, ids_b = a.by_id(), b.by_id()
    return Comparison(
        only_a=[alert for alert in a.alerts if alert.alert_id not in ids_b],
        only_b=[alert for alert in b.alerts if alert.alert_id not in ids_a],
        both=len(ids_a.keys() & ids_b.keys()),
    )


# -- report -----------------------------------------------------------------------------------------------


def _alert_rows(alerts: Sequence[ReplayedAlert]) -> list[str]:
    rows = [
        "| rule | severity | client | clinician | anchor time | resolved in replay | evidence |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in sorted(alerts, key=lambda a: (a.rule, a.at, a.alert_id)):
        resolved = a.resolved_at.isoformat() if a.resolved_at else "open"
        rows.append(
            f"| {a.rule} | {a.severity} | {a.client_id} | {a.clinician_id} | {a.at.isoformat()} | {resolved} "
            f"| {', '.join(a.evidence)} |"
        )
    return rows


def _count_rows(label_counts: Sequence[tuple[str, Counter[str]]]) -> list[str]:
    rules = sorted(set().union(*(c.keys() for _, c in label_counts)))
    header = "| rule | " + " | ".join(label for label, _ in label_counts) + " |"
    rows = [header, "|---|" + "---:|" * len(label_counts)]
    rows += [f"| {rule} | " + " | ".join(str(c[rule]) for _, c in label_counts) + " |" for rule in rules]
    rows.append("| **total** | " + " | ".join(str(sum(c.values())) for _, c in label_counts) + " |")
    return rows


def report_single(result: BacktestResult, *, rules: str, window: str, skipped: int = 0) -> str:
    lines = [
        f"# Alliance-monitor backtest: {rules}",
        "",
        f"Replayed {result.replayed} events ({window}); {result.duplicates} duplicate ids ignored; "
        f"{skipped} undecodable or foreign-source records skipped.",
        "",
        "## Alerts per rule",
        "",
        *_count_rows([("alerts", result.counts())]),
        "",
        "## Alerts",
        "",
        *_alert_rows(result.alerts),
    ]
    return "\n".join(lines) + "\n"


def report_comparison(
    a: BacktestResult, b: BacktestResult, *, rules_a: str, rules_b: str, window: str, skipped: int = 0
) -> str:
    diff = compare(a, b)
    lines = [
        f"# Alliance-monitor backtest: A = {rules_a} vs B = {rules_b}",
        "",
        f"Replayed {a.replayed} events ({window}); {a.duplicates} duplicate ids ignored; "
        f"{skipped} undecodable or foreign-source records skipped. {diff.both} alerts fire under both configs.",
        "",
        "## Alerts per rule",
        "",
        *_count_rows([("A", a.counts()), ("B", b.counts())]),
        "",
        f"## Only under A ({len(diff.only_a)})",
        "",
        *_alert_rows(diff.only_a),
        "",
        f"## Only under B ({len(diff.only_b)})",
        "",
        *_alert_rows(diff.only_b),
    ]
    return "\n".join(lines) + "\n"


# -- reading the topics -----------------------------------------------------------------------------------


async def read_topics(
    bootstrap_servers: str, topics: Sequence[str], *, idle_ms: int = 500
) -> tuple[list[CloudEvent[Any]], int]:
    """Every record of ``topics`` (up to two empty polls of ``idle_ms`` in a row), decoded.

    Returns (events, records skipped as undecodable or foreign to their topic).

    Plain assigned consumer: no group id, auto-commit off, so nothing about the read is stored anywhere.
    """
    from aiokafka import AIOKafkaConsumer

    from rapport_common.kafka.reading import topic_partitions

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    events: list[CloudEvent[Any]] = []
    skipped = 0
    try:
        if not topics:
            raise SystemExit("--topics: no topic given")
        partitions = await topic_partitions(consumer, topics)
        missing = set(topics) - {tp.topic for tp in partitions}
        if missing:
            raise SystemExit(f"--topics: topic(s) {', '.join(sorted(missing))} do not exist on {bootstrap_servers}")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        # The end offsets are only a lower bound: the embedded broker (Tansu) reports the end of a batch
        # produced in one request as its base offset + 1. So read past them until a poll comes back empty.
        quiet = 0
        while remaining or quiet < 2:
            batches = await consumer.getmany(timeout_ms=idle_ms, max_records=5000)
            quiet = 0 if batches else quiet + 1
            for records in batches.values():
                for record in records:
                    try:
                        # as the live consumer: a record foreign to its topic (EVENTS.md v1.1) is skipped
                        events.append(decode_event(record.value, record.headers, topic=record.topic))
                    except EventDecodeError:
                        skipped += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return events, skipped


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rapport_alliance_monitor.backtest",
        description="Replay the monitor's input topics through the rules (read-only) and report the alerts.",
    )
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_PATH, help="rules config A (default: defaults)")
    parser.add_argument("--compare-rules", type=Path, help="rules config B: report alerts only under A / only B")
    parser.add_argument("--since", type=_instant, help="report alerts from this event time (ISO 8601)")
    parser.add_argument("--until", type=_instant, help="replay events before this event time (ISO 8601)")
    parser.add_argument("--out", type=Path, help="write the markdown report here (default: stdout)")
    parser.add_argument("--topics", default=",".join(DEFAULT_TOPICS), help="comma-separated input topics")
    args = parser.parse_args(argv)

    config_a = load_rules_config(args.rules)  # RulesConfigError names the file and key
    config_b = load_rules_config(args.compare_rules) if args.compare_rules else None
    topics = [t.strip() for t in args.topics.split(",") if t.strip()]
    events, skipped = asyncio.run(read_topics(args.bootstrap_servers, topics))
    since = args.since.isoformat() if args.since else "-inf"
    until = args.until.isoformat() if args.until else "now"
    window = f"event time {since} .. {until}"
    result_a = backtest(events, config_a, since=args.since, until=args.until)
    if config_b is None:
        text = report_single(result_a, rules=str(args.rules), window=window, skipped=skipped)
    else:
        result_b = backtest(events, config_b, since=args.since, until=args.until)
        text = report_comparison(
            result_a, result_b, rules_a=str(args.rules), rules_b=str(args.compare_rules), window=window, skipped=skipped
        )
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out} ({len(result_a.alerts)} alerts under A)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
