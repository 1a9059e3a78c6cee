"""How the test infrastructure is chosen (``tests/infra.py``): explicit settings first, a Docker engine
only when it answers, and what a session creates on a server it does not own is removed afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

infra_module = sys.modules["rapport_test_infra"]  # loaded by tests/conftest.py
REPO = Path(__file__).resolve().parents[2]


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "RAPPORT_TEST_INFRA", "DOCKER_HOST"):
        monkeypatch.delenv(name, raising=False)


def test_explicit_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    assert infra_module.planned_modes() == ("env", "env")


def test_forced_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("RAPPORT_TEST_INFRA", "embedded")
    assert infra_module.planned_modes() == ("embedded", "embedded")
    monkeypatch.setenv("RAPPORT_TEST_INFRA", "containers")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    assert infra_module.planned_modes() == ("container", "env")


def test_no_docker_engine_is_detected_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'missing.sock'}")
    started = time.monotonic()
    assert infra_module.docker_engine_answers() is False
    assert time.monotonic() - started < 0.5


def _serve_once(path: Path, reply: bytes | None) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            if reply is None:
                time.sleep(2)  # an engine that hangs
            else:
                conn.sendall(reply)

    threading.Thread(target=answer, daemon=True).start()
    return server


def test_docker_ping_answered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "d.sock"
    server = _serve_once(path, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
    try:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        assert infra_module.docker_engine_answers() is True
    finally:
        server.close()


def test_docker_ping_that_hangs_counts_as_no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    server = _serve_once(path, None)
    try:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        started = time.monotonic()
        assert infra_module.docker_engine_answers(timeout=0.3) is False
        assert time.monotonic() - started < 1.5
    finally:
        server.close()


def test_unique_names_are_valid_identifiers() -> None:
    names = {infra_module.unique_name("My Test/Name") for _ in range(100)}
    assert len(names) == 100
    assert all(len(n) <= 63 and n.replace("_", "").isalnum() and n == n.lower() for n in names)
    assert len(infra_module.unique_name("x" * 200)) == 63


async def test_explicit_mode_session_cleans_up_after_itself(infra: Any, tmp_path: Path) -> None:
    """A pytest session pointed at our servers by env vars uses them and drops what it created."""
    out = tmp_path / "created.json"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("KAFKA_ENABLE_IDEMPOTENCE", "RAPPORT_TEST_INFRA")},
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "DATABASE_URL": infra.postgres_admin_url,
        "RAPPORT_EXPECT_IDEMPOTENCE": "1" if infra.kafka_idempotence else "0",
        "RAPPORT_ENVMODE_OUT": str(out),
    }
    inner = str(Path(__file__).with_name("envmode_session.py"))
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", inner],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "infra mode: env" in result.stdout
    created = json.loads(await asyncio.to_thread(out.read_text))

    database = created["database_url"].rsplit("/", 1)[1]
    conn = await asyncpg.connect(infra.postgres_admin_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", database) == 0
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        assert created["topic"] not in await admin.list_topics()
    finally:
        await admin.close()
