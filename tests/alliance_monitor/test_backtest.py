"""Backtest: the pure replay (events + config -> alerts) and the CLI against the real broker (read-only)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from rapport_alliance_monitor.backtest import backtest, compare, main, read_topics, replay_order
from rapport_alliance_monitor.domain import RulesConfig, alert_id
from rapport_alliance_monitor.settings import DEFAULT_TOPICS
from rapport_common.events import encode_event
from rapport_common.events.codec import KafkaRecord
from rapport_common.events.consent import ConsentGranted, ConsentRevoked
from rapport_common.events.examples import EXAMPLE_TIME, example_event
from rapport_common.events.feedback import PulseSubmitted, SrsSubmitted
from rapport_common.events.intake import ClientRegistered, ClinicianAssigned, ClinicianRegistered
from rapport_common.events.session import SessionStarted
from rapport_common.kafka.producer import EventProducer

WEEK = timedelta(days=7)
LOW_SRS = {"relationship": 8.5, "goals_topics": 8.5, "approach_method": 8.5, "overall": 9.0}  # 34.5


def history(client: str = "client-1", *, srs_items: dict[str, float] = LOW_SRS, consent: bool = True) -> list[Any]:
    """One pair: onboarding, four weekly sessions, a low SRS in session 4 (srs-below-cutoff territory)."""
    events: list[Any] = [
        example_event(ClinicianRegistered),
        example_event(ClientRegistered, subject=client),
        example_event(ClinicianAssigned, subject=client),
    ]
    if consent:
        events += [
            example_event(ConsentGranted, subject=client),  # telehealth-treatment
            example_event(ConsentGranted, subject=client, consent_id="consent-mf", scope="measurement-feedback"),
        ]
    for n in range(1, 5):
        events.append(
            example_event(SessionStarted, subject=client, session_id=f"s{n}", time=EXAMPLE_TIME + (n - 1) * WEEK)
        )
    events.append(
        example_event(
            SrsSubmitted,
            subject=client,
            session_id="s4",
            response_id="srs-s4",
            items=srs_items,
            time=EXAMPLE_TIME + 3 * WEEK + timedelta(minutes=48),
        )
    )
    return events


def config_with(**srs: float) -> RulesConfig:
    base = RulesConfig()
    return base.model_copy(update={"srs": base.srs.model_copy(update=srs)})


def test_low_srs_in_session_four_raises_srs_below_cutoff_with_its_evidence() -> None:
    events = history()
    result = backtest(events, RulesConfig())
    assert result.counts() == {"srs-below-cutoff": 1}
    [alert] = result.alerts
    assert (alert.client_id, alert.clinician_id, alert.severity) == ("client-1", "clinician-1", "medium")
    assert alert.evidence == [events[-1].id]
    assert alert.at == events[-1].time
    assert alert.resolved_at is None


def test_lowering_the_cutoff_removes_the_alert_and_the_comparison_names_it() -> None:
    events = history()
    defaults = backtest(events, RulesConfig())
    lowered = backtest(events, config_with(cutoff=34.5))  # 34.5 is not below 34.5
    assert lowered.alerts == []
    diff = compare(defaults, lowered)
    assert [a.rule for a in diff.only_a] == ["srs-below-cutoff"]
    assert diff.only_b == [] and diff.both == 0
    raised_higher = backtest(events, config_with(cutoff=34.6))
    assert raised_higher.counts() == {"srs-below-cutoff": 1}
    assert compare(defaults, raised_higher).both == 1  # same deterministic alert id under both


def test_order_of_arrival_does_not_matter_and_duplicates_count_once() -> None:
    events = history()
    shuffled = list(reversed(events)) + events[-3:]  # SRS before its sessions and consent; redeliveries
    result = backtest(shuffled, RulesConfig())
    assert [a.alert_id for a in result.alerts] == [a.alert_id for a in backtest(events, RulesConfig()).alerts]
    assert result.duplicates == 3
    assert [type(e) for e in replay_order(shuffled)][:2] == [ConsentGranted, ConsentGranted]


def test_without_consent_only_consent_violation_is_reported() -> None:
    result = backtest(history(consent=False), RulesConfig())
    assert set(result.counts()) == {"consent-violation"}
    assert all(a.audience == "compliance" for a in result.alerts)


def test_revocation_before_the_srs_hides_it_even_though_it_arrives_later() -> None:
    events = history()
    revoked = example_event(
        ConsentRevoked,
        subject="client-1",
        consent_id="consent-mf",
        scope="measurement-feedback",
        effective_at=EXAMPLE_TIME + 3 * WEEK,
        time=EXAMPLE_TIME + 3 * WEEK,
    )
    result = backtest([*events, revoked], RulesConfig())
    assert "srs-below-cutoff" not in result.counts()
    assert result.counts()["consent-violation"] == 1


def test_since_and_until_bound_the_report() -> None:
    events = history()
    srs_time = events[-1].time
    assert backtest(events, RulesConfig(), until=srs_time).alerts == []
    assert backtest(events, RulesConfig(), since=srs_time + timedelta(seconds=1)).alerts == []
    assert len(backtest(events, RulesConfig(), since=srs_time).alerts) == 1


def test_pulse_low_is_per_event_and_its_id_matches_the_service_derivation() -> None:
    events = history(srs_items={"relationship": 10.0, "goals_topics": 10.0, "approach_method": 10.0, "overall": 10.0})
    pulse = example_event(PulseSubmitted, subject="client-1", session_id="s4", score=1, time=EXAMPLE_TIME + 3 * WEEK)
    result = backtest([*events, pulse], RulesConfig())
    assert result.counts() == {"pulse-low": 1}
    assert result.alerts[0].alert_id == alert_id("pulse-low", pulse.id)


async def test_cli_reads_test_topics_read_only_and_writes_a_comparison(
    kafka_bootstrap_servers: str, kafka_idempotence: bool, make_topics: Any, tmp_path: Path
) -> None:
    topics = dict(zip(DEFAULT_TOPICS, await make_topics(DEFAULT_TOPICS), strict=True))
    client = f"client-{uuid.uuid4().hex[:8]}"
    events = history(client)
    producer = EventProducer(kafka_bootstrap_servers, enable_idempotence=kafka_idempotence)
    await producer.start()
    try:
        records = [encode_event(e) for e in events]
        sent = await producer.publish([KafkaRecord(topics[r.topic], r.key, r.value, r.headers) for r in records])
        assert all(sent)
    finally:
        await producer.stop()
    lowered = tmp_path / "lowered.yaml"
    lowered.write_text("srs:\n  cutoff: 34.0\n")
    out = tmp_path / "report.md"
    argv = [
        "--bootstrap-servers",
        kafka_bootstrap_servers,
        "--topics",
        ",".join(topics.values()),
        "--compare-rules",
        str(lowered),
        "--out",
        str(out),
    ]
    # the CLI runs its own event loop: run it in a thread, as a user's shell would in its own process
    assert await asyncio.to_thread(main, argv) == 0
    text = out.read_text()
    assert f"Replayed {len(events)} events" in text
    only_a = text.split("## Only under A (1)")[1].split("## Only under B")[0]
    assert f"| srs-below-cutoff | medium | {client} | clinician-1 |" in only_a
    assert events[-1].id in only_a
    assert "## Only under B (0)" in text

    # read-only: a second read sees exactly what was published (the CLI wrote nothing, committed nothing)
    again, undecodable = await read_topics(kafka_bootstrap_servers, list(topics.values()))
    assert sorted(e.id for e in again) == sorted(e.id for e in events) and undecodable == 0


def test_cli_refuses_a_bad_rules_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("srs:\n  cutof: 30\n")
    try:
        main(["--bootstrap-servers", "127.0.0.1:1", "--rules", str(bad)])
    except ValueError as exc:
        assert "cutof" in str(exc)
    else:
        raise AssertionError("a misspelt key must be refused")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run with pytest")
