"""Plain ``.sql`` migrations applied in order, each in its own transaction, and recorded.

Files are named ``NNN_description.sql``. The common plumbing's own migrations (outbox, inbox) run first
under the ``common`` namespace, then the service's. An advisory lock serialises concurrent instances, and a
changed checksum of an applied file is refused (migrations are append-only history).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

COMMON_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x52415050  # "RAPP"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    namespace: str
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(namespace: str, directory: Path) -> list[Migration]:
    """The ``.sql`` files of ``directory`` in version order; refuses duplicate version numbers."""
    found = sorted(directory.glob("*.sql"))
    numbers = [path.name.split("_", 1)[0] for path in found]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return [Migration(namespace, path.stem, path) for path in found]


async def apply_migrations(conn: asyncpg.Connection, namespace: str, directory: Path | None) -> list[str]:
    """Apply the common migrations, then ``directory``'s under ``namespace``; returns what was applied."""
    plan = discover("common", COMMON_MIGRATIONS)
    if directory is not None:
        plan += discover(namespace, directory)
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   namespace text NOT NULL,
                   version text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (namespace, version))"""
        )
        rows = await conn.fetch("SELECT namespace, version, checksum FROM schema_migrations")
        done = {(row["namespace"], row["version"]): row["checksum"] for row in rows}
        for migration in plan:
            key = (migration.namespace, migration.version)
            if key in done:
                if done[key] != migration.checksum:
                    raise MigrationError(f"{migration.namespace}/{migration.version} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (namespace, version, checksum) VALUES ($1, $2, $3)",
                    migration.namespace,
                    migration.version,
                    migration.checksum,
                )
            name = f"{migration.namespace}/{migration.version}"
            log.info("applied migration", extra={"migration": name})
            applied_now.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
