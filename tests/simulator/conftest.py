"""The embedded suite for the simulator's end-to-end test: ``python -m rapport_local run`` in a subprocess.

``RAPPORT_RUN_JSON=<path>`` uses a running suite instead. Otherwise: its own PostgreSQL, broker and
services (no shared consumer groups with other tests). The data directory is made with
``tempfile.mkdtemp`` under /tmp, not pytest's ``tmp_path`` (see deploy/local/README.md, Limits).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 300


def _free_base_port() -> int:
    """A base port with the four service ports after it free (best effort)."""
    for base in range(9600, 9900, 10):
        try:
            for port in range(base, base + 4):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range for the suite")


#: the suite on ``./rapport run``'s default broker, and on a secured 3-node Apache Kafka cluster (SASL_SSL, one
#: SCRAM principal per service, ACLs): end to end with broker security on
BROKERS = {
    "tansu": (),
    "kafka-3-nodes-secured": ("--broker", "kafka", "--kafka-nodes", "3", "--kafka-security"),
}


@pytest.fixture(scope="module", params=list(BROKERS))
def suite_run_json(request: pytest.FixtureRequest) -> Iterator[Path]:
    """``RAPPORT_RUN_JSON`` (a suite already running) when set, else a fresh suite per broker for this module."""
    given = os.environ.get("RAPPORT_RUN_JSON")
    if given:
        if request.param != "tansu":
            pytest.skip("RAPPORT_RUN_JSON names one running suite; its broker is the one under test")
        yield Path(given)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="rapport-sim-e2e-"))
    log_path = data_dir.with_suffix(".log")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rapport_local",
                "run",
                "--data-dir",
                str(data_dir),
                "--duration",
                "900",
                "--base-port",
                str(_free_base_port()),
                "--log-level",
                "WARNING",
                "--simulator",
                "off",
                *BROKERS[request.param],
            ],
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    run_json = data_dir / "run.json"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                pytest.fail(f"launcher exited with {proc.returncode} before ready:\n" + "\n".join(tail))
            try:
                if json.loads(run_json.read_text()).get("ready"):
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"suite not ready after {READY_TIMEOUT_S} s (log: {log_path})")
            time.sleep(0.5)
        yield run_json
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
