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


def test_run_without_services_for_a_duration(scratch_dir: Path) -> None:
    data_dir = scratch_dir / "run"
    started = time.monotonic()
    proc = _launch(data_dir, "--services", "", "--duration", "5")
    try:
        content = _wait_ready(proc, data_dir, 60)
        ready_after = time.monotonic() - started
        owned = _processes_of(content, proc.pid)
        assert {"postgres", "broker"} <= set(content["processes"])
        assert content["pid"] == proc.pid and content["services"] == {} and content["databases"] == {}
        assert content["kafka_bootstrap_servers"].startswith("127.0.0.1:")
        assert content["database_url"].startswith("postgresql://postgres@127.0.0.1:")
        assert Path(content["jwt_secret_file"]).read_text().strip()
        output, _ = proc.communicate(timeout=60)
    finally:
        _kill(proc)
    assert proc.returncode == 0, output
    assert f"run file: {data_dir / 'run.json'}" in output and "duration of 5s elapsed" in output
    assert not (data_dir / "run.json").exists()  # removed on a clean stop
    _assert_all_gone(owned, within=1)
    print(f"embedded stack ready {ready_after:.1f}s after the launcher was spawned (first run, with initdb)")


def test_kill_minus_nine_leaves_no_orphans_and_stop_cleans_up(scratch_dir: Path) -> None:
    data_dir = scratch_dir / "run"
    proc = _launch(data_dir, "--services", "")
    try:
        content = _wait_ready(proc, data_dir, 60)
        owned = _processes_of(content, proc.pid)
        secret = Path(content["jwt_secret_file"]).read_text()

        second = subprocess.run(
            [sys.executable, "-m", "rapport_local", "run", "--data-dir", str(data_dir), "--services", ""],
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

    rerun = _launch(data_dir, "--services", "", "--duration", "1")  # the data directory is reused
    try:
        output, _ = rerun.communicate(timeout=60)
    finally:
        _kill(rerun)
    assert rerun.returncode == 0, output
    assert Path(content["jwt_secret_file"]).read_text() == secret  # one secret per data directory


@pytest.mark.slow
@pytest.mark.timeout(READY_TIMEOUT + 300)
def test_full_suite_every_service_ready(scratch_dir: Path) -> None:
    data_dir = scratch_dir / "run"
    base = _free_base_port()
    started = time.monotonic()
    proc = _launch(data_dir, "--base-port", str(base), "--ready-timeout", str(READY_TIMEOUT))
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
    print(f"full suite ready {ready_after:.1f}s after the launcher was spawned")
