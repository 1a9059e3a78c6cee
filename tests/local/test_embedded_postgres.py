"""The embedded PostgreSQL: starts on TCP, answers SQL, keeps its data across restarts, refuses a second
server on the same data directory; and the session's ``make_database`` gives isolated databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest

from rapport_local.postgres import EmbeddedPostgres, PostgresError, drop_database
from rapport_local.process import free_port


async def test_embedded_postgres_answers_sql_and_keeps_data(scratch_dir: Path) -> None:
    pg = EmbeddedPostgres(scratch_dir / "pgdata", log_path=scratch_dir / "pg.log")
    pg.start()
    try:
        assert pg.port > 0 and pg.url().startswith(f"postgresql://postgres@127.0.0.1:{pg.port}/")
        url = await pg.ensure_database("rapport_probe")
        assert url.endswith("/rapport_probe")
        assert await pg.ensure_database("rapport_probe") == url  # idempotent
        conn = await asyncpg.connect(url)
        try:
            version = await conn.fetchval("SHOW server_version_num")
            assert int(version) >= 180000
            await conn.execute("CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (42)")
        finally:
            await conn.close()
        first_pid = pg.pid
    finally:
        pg.stop()
    assert first_pid is not None and not psutil.pid_exists(first_pid)

    again = EmbeddedPostgres(scratch_dir / "pgdata", log_path=scratch_dir / "pg.log")  # reuses the data directory
    again.start()
    try:
        conn = await asyncpg.connect(again.url("rapport_probe"))
        try:
            assert await conn.fetchval("SELECT id FROM kept") == 42
        finally:
            await conn.close()
        await drop_database(again.url(), "rapport_probe")
    finally:
        again.stop()


def test_second_server_on_same_data_dir_is_refused(scratch_dir: Path) -> None:
    pg = EmbeddedPostgres(scratch_dir / "pgdata", log_path=scratch_dir / "pg.log")
    pg.start()
    try:
        other = EmbeddedPostgres(scratch_dir / "pgdata", log_path=scratch_dir / "pg2.log")
        with pytest.raises(PostgresError, match="already running"):
            other.start()
    finally:
        pg.stop()


def test_fixed_port_is_used_and_busy_port_is_reported(scratch_dir: Path) -> None:
    port = free_port()
    pg = EmbeddedPostgres(scratch_dir / "a", port=port, log_path=scratch_dir / "a.log")
    pg.start()
    try:
        assert pg.url().startswith(f"postgresql://postgres@127.0.0.1:{port}/")
        clash = EmbeddedPostgres(scratch_dir / "b", port=port, log_path=scratch_dir / "b.log")
        with pytest.raises(PostgresError, match="already in use"):
            clash.start()
    finally:
        pg.stop()


async def test_make_database_gives_isolated_databases(make_database: Any) -> None:
    first, second = await make_database("iso"), await make_database("iso")
    assert first != second
    conn = await asyncpg.connect(first)
    try:
        await conn.execute("CREATE TABLE only_here (x int)")
    finally:
        await conn.close()
    conn = await asyncpg.connect(second)
    try:
        assert await conn.fetchval("SELECT to_regclass('only_here')") is None
    finally:
        await conn.close()
