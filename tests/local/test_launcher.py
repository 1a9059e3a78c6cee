"""The launcher as a user runs it (``python -m rapport_local``): starts, writes run.json, stops cleanly on
``--duration``, on SIGTERM and after a ``kill -9``, and leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from rapport_local.launcher import CATALOG, SERVICES, LaunchConfig, parse_services
from rapport_local.process import alive, port_in_use

READY_TIMEOUT = 180.0  # four Python services importing FastAPI and OpenTelemetry on two cores


def _launch(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rapport_local", "run", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a Ctrl-C on pytest does not reach it; the test stops it itself
    )


def _wait_ready(proc: subprocess.Popen[str], data_dir: Path, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"launcher exited with {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            content: dict[str, Any] = json.loads((data_dir / "run.json").read_text())
            if content.get("ready"):
                return content
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    _kill(proc)
    raise AssertionError(f"launcher not ready within {within:.0f}s:\n{proc.stdout.read() if proc.stdout else ''}")


def _processes_of(content: dict[str, Any], launcher_pid: int) -> list[psutil.Process]:
    """Everything the run owns: the recorded children and every descendant of the launcher."""
    procs = []
    for identity in content["processes"].values():
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(identity["pid"]))
    with contextlib.suppress(psutil.NoSuchProcess):
        procs += psutil.Process(launcher_pid).children(recursive=True)
    return procs


def _assert_all_gone(procs: list[psutil.Process], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = alive(procs)
    assert not left, f"orphans: {[(p.pid, p.cmdline()) for p in left]}"


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _free_base_port() -> int:
    for base in range(18200, 30000, 10):
        if not any(port_in_use("127.0.0.1", base + i) for i in range(len(SERVICES))):
            return base
    raise AssertionError("no four free consecutive ports")


def test_parse_services_and_ports() -> None:
    assert parse_services("") == ()
    assert parse_services("consent, intake") == ("intake", "consent")
    assert parse_services("all") == SERVICES
    with pytest.raises(ValueError, match="unknown services"):
        parse_services("intake,billing")
    config = LaunchConfig(data_dir=Path("x"), base_port=9000)
    assert [config.base_url(s) for s in SERVICES] == [f"http://127.0.0.1:{9000 + i}" for i in range(len(SERVICES))]
    assert config.with_database() == [s for s in SERVICES if s != "console"], "the console has no database"


#: ``./rapport run``'s default and the engine users deploy on (Apache Kafka from its jars, one node)
BROKERS = {"tansu": (), "kafka": ("--broker", "kafka")}
BROKER_KINDS = {"tansu": "tansu", "kafka": "apache-kafka"}


@pytest.mark.parametrize("broker", list(BROKERS))
def test_run_without_services_for_a_duration(scratch_dir: Path, broker: str) -> None:
    data_dir = scratch_dir / "run"
    started = time.monotonic()
    proc = _launch(data_dir, "--services", "", "--duration", "5", *BROKERS[broker])
    try:
        content = _wait_ready(proc, data_dir, 120)
        ready_after = time.monotonic() - started
        owned = _processes_of(content, proc.pid)
        assert {"postgres", "broker"} <= set(content["processes"])
        assert content["pid"] == proc.pid and content["services"] == {} and content["databases"] == {}
        assert content["kafka_bootstrap_servers"].startswith("127.0.0.1:")
        assert content["database_url"].startswith("postgresql://postgres@127.0.0.1:")
        assert Path(content["jwt_secret_file"]).read_text().strip()
        assert content["broker"]["kind"] == BROKER_KINDS[broker] and content["broker"]["version"]
        assert content["kafka_enable_idempotence"] is (broker == "kafka")
        output, _ = proc.communicate(timeout=60)
    finally:
        _kill(proc)
    assert proc.returncode == 0, output
    assert f"run file: {data_dir / 'run.json'}" in output and "duration of 5s elapsed" in output
    assert f"broker {BROKER_KINDS[broker]} {content['broker']['version']}" in output
    assert not (data_dir / "run.json").exists()  # removed on a clean stop
    _assert_all_gone(owned, within=1)
    print(f"embedded stack ready {ready_after:.1f}s after the launcher was spawned (first run, with initdb)")


@pytest.mark.parametrize("broker", list(BROKERS))
def test_kill_minus_nine_leaves_no_orphans_and_stop_cleans_up(scratch_dir: Path, broker: str) -> None:
    data_dir = scratch_dir / "run"
    proc = _launch(data_dir, "--services", "", *BROKERS[broker])
    try:
        content = _wait_ready(proc, data_dir, 120)
        owned = _processes_of(content, proc.pid)
        secret = Path(content["jwt_secret_file"]).read_text()

        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "rapport_local",
                "run",
                "--data-dir",
                str(data_dir),
                "--services",
                "",
                *BROKERS[broker],
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1 and "already running" in second.stdout

        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        _assert_all_gone(owned)  # the parent-death signal took them down
    finally:
        _kill(proc)

    assert (data_dir / "run.json").exists()  # stale until someone cleans up
    stop = subprocess.run(
        [sys.executable, "-m", "rapport_local", "stop", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stop.returncode == 0 and not (data_dir / "run.json").exists(), stop.stdout

    rerun = _launch(data_dir, "--services", "", "--duration", "1", *BROKERS[broker])  # the data directory is reused
    try:
        output, _ = rerun.communicate(timeout=120)
    finally:
        _kill(rerun)
    assert rerun.returncode == 0, output
    assert Path(content["jwt_secret_file"]).read_text() == secret  # one secret per data directory


@pytest.mark.slow
@pytest.mark.timeout(READY_TIMEOUT + 300)
@pytest.mark.parametrize("broker", list(BROKERS))
def test_full_suite_every_service_ready(scratch_dir: Path, broker: str) -> None:
    data_dir = scratch_dir / "run"
    base = _free_base_port()
    started = time.monotonic()
    proc = _launch(
        data_dir,
        "--base-port",
        str(base),
        "--ready-timeout",
        str(READY_TIMEOUT),
        "--simulator",
        "off",
        *BROKERS[broker],
    )
    try:
        # beyond the launcher's own readiness timeout, so its error (naming the service) is what we see
        content = _wait_ready(proc, data_dir, READY_TIMEOUT + 120)
        ready_after = time.monotonic() - started
        assert set(content["services"]) == set(SERVICES)
        assert set(content["databases"]) == {s for s in SERVICES if CATALOG[s].database}
        owned = _processes_of(content, proc.pid)
        with httpx.Client(timeout=5) as client:
            for service, url in content["services"].items():
                assert client.get(url + "/readyz").status_code == 200, service
                assert client.get(url + "/healthz").status_code == 200, service
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        _kill(proc)
    assert proc.returncode == 0, output
    for service in SERVICES:
        assert f"[{service:<16}]" in output  # each service's log lines are streamed with its prefix
    _assert_all_gone(owned, within=1)
    print(f"full suite on {broker} ready {ready_after:.1f}s after the launcher was spawned")


def _read_config(bootstrap: str, topic: str, name: str) -> str:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return str(future.result(timeout=30)[name].value)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_three_node_kafka_replicates_every_topic_and_keeps_its_log_across_restarts(scratch_dir: Path) -> None:
    """``--broker kafka --kafka-nodes 3``: three KRaft nodes, every contract topic at replication 3 with
    ``min.insync.replicas=2``; an acknowledged record is still there after the whole cluster restarts."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    data_dir = scratch_dir / "run"
    args = ("--services", "", "--broker", "kafka", "--kafka-nodes", "3")
    proc = _launch(data_dir, *args)
    try:
        content = _wait_ready(proc, data_dir, 240)
        bootstrap = content["kafka_bootstrap_servers"]
        assert len(bootstrap.split(",")) == 3
        assert {"broker", "broker-2", "broker-3"} <= set(content["processes"])
        assert content["broker"] | {"start_seconds": None} == {
            "kind": "apache-kafka",
            "version": content["broker"]["version"],
            "nodes": 3,
            "replication_factor": 3,
            "start_seconds": None,
        }
        names = ("intake.events", "session.events", "alliance.alerts", "feedback.events.dlq")
        admin = AdminClient({"bootstrap.servers": bootstrap})
        deadline = time.monotonic() + 30
        while True:  # each node learns of new topics from the controller on its own: ask until this one has
            metadata = admin.list_topics(timeout=30)
            if all(name in metadata.topics for name in names) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(metadata.brokers) == 3
        for name in names:
            partitions = metadata.topics[name].partitions.values()
            assert len(partitions) == 6 and all(len(p.replicas) == 3 for p in partitions), name
            assert _read_config(bootstrap, name, "min.insync.replicas") == "2"
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
        delivered: list[Any] = []
        producer.produce("session.events", key=b"k", value=b"kept", on_delivery=lambda e, m: delivered.append(e or m))
        producer.flush(30)
        [record] = delivered
        assert not isinstance(record, Exception) and record.offset() >= 0, record
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    finally:
        _kill(proc)
    assert proc.returncode == 0

    again = _launch(data_dir, *args)  # same data directory: the nodes start from their on-disk logs
    try:
        content = _wait_ready(again, data_dir, 240)
        consumer = Consumer({"bootstrap.servers": content["kafka_bootstrap_servers"], "group.id": "check"})
        tp = TopicPartition("session.events", record.partition(), record.offset())
        consumer.assign([tp])
        message = consumer.poll(30)
        consumer.close()
        assert message is not None and message.error() is None and message.value() == b"kept"
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=120)
        _kill(again)
