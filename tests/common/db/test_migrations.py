"""Migrations are applied in order, recorded, applied once, and refused when an applied file changed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from rapport_common.db.migrations import MigrationError, apply_migrations


@pytest.fixture
def service_migrations(tmp_path: Path) -> Path:
    (tmp_path / "001_create.sql").write_text("CREATE TABLE thing (id int PRIMARY KEY, label text);")
    (tmp_path / "002_alter.sql").write_text("ALTER TABLE thing ADD COLUMN size int NOT NULL DEFAULT 0;")
    (tmp_path / "010_seed.sql").write_text("INSERT INTO thing (id, label) VALUES (1, 'first');")
    return tmp_path


async def test_applied_in_order_and_recorded_once(make_database: Any, service_migrations: Path) -> None:
    conn = await asyncpg.connect(await make_database())
    try:
        first = await apply_migrations(conn, "svc", service_migrations)
        second = await apply_migrations(conn, "svc", service_migrations)
        rows = await conn.fetch("SELECT namespace, version FROM schema_migrations ORDER BY applied_at, version")
        thing = await conn.fetchrow("SELECT label, size FROM thing")
    finally:
        await conn.close()
    assert first == [
        "common/001_outbox",
        "common/002_inbox",
        "common/003_idempotency",
        "common/004_outbox_positions",
        "svc/001_create",
        "svc/002_alter",
        "svc/010_seed",
    ]
    assert second == []
    assert [(r["namespace"], r["version"]) for r in rows] == [tuple(name.split("/")) for name in first]
    assert (thing["label"], thing["size"]) == ("first", 0)


async def test_changed_applied_migration_is_refused(make_database: Any, service_migrations: Path) -> None:
    conn = await asyncpg.connect(await make_database())
    try:
        await apply_migrations(conn, "svc", service_migrations)
        (service_migrations / "002_alter.sql").write_text("ALTER TABLE thing ADD COLUMN other int;")
        with pytest.raises(MigrationError, match="svc/002_alter changed"):
            await apply_migrations(conn, "svc", service_migrations)
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_and_is_not_recorded(make_database: Any, tmp_path: Path) -> None:
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(await make_database())
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await apply_migrations(conn, "svc", tmp_path)
        versions = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        half = await conn.fetchval("SELECT to_regclass('half')")
    finally:
        await conn.close()
    assert "001_ok" in versions and "002_broken" not in versions
    assert half is None


async def test_concurrent_instances_apply_each_migration_once(make_database: Any, service_migrations: Path) -> None:
    url = await make_database()
    conns = [await asyncpg.connect(url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(apply_migrations(c, "svc", service_migrations) for c in conns))
        count = await conns[0].fetchval("SELECT count(*) FROM thing")
    finally:
        for c in conns:
            await c.close()
    assert sorted(len(r) for r in results) == [0, 0, 7]
    assert count == 1


def test_duplicate_migration_numbers_are_refused(tmp_path: Path) -> None:
    from rapport_common.db.migrations import discover

    (tmp_path / "001_a.sql").write_text("")
    (tmp_path / "001_b.sql").write_text("")
    with pytest.raises(MigrationError, match="duplicate"):
        discover("svc", tmp_path)
