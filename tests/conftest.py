"""Root fixtures: one Kafka and one PostgreSQL per test session, and fresh databases and topics per test.

Fixtures (the whole interface; tests never import ``tests/infra.py``):
- ``kafka_bootstrap_servers: str``, ``postgres_admin_url: str``, ``kafka_idempotence: bool`` (session):
  explicit ``KAFKA_BOOTSTRAP_SERVERS``/``DATABASE_URL``, else testcontainers when Docker answers, else
  the embedded broker and PostgreSQL (see ``tests/infra.py``). The contract topics and their DLQs exist.
- ``make_database: async (prefix="t") -> str``: a new, uniquely named database; returns its URL.
- ``make_topics: async (names, partitions=6, *, dlq=False, configs=None) -> list[str]``: new topics named
  ``t<hex>.<name>`` in the order of ``names`` (with ``dlq=True`` also ``<that>.dlq``, so
  ``dlq_topic(returned)`` exists; ``configs`` are topic configs such as ``max.message.bytes``).
- ``infra`` (session): all of the above plus ``mode`` and ``broker_pid`` (embedded broker only).
Databases and topics are dropped at session end on servers the session did not start; servers it started
are thrown away whole.

Why a file loaded by path: pytest runs with ``--import-mode=importlib``, under which ``tests`` is not an
importable package, so ``from tests.infra import ...`` would fail. This conftest loads ``infra.py`` once
under the module name ``rapport_test_infra``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load_infra() -> ModuleType:
    name = "rapport_test_infra"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("infra.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


infra_module = _load_infra()


def pytest_report_header(config: pytest.Config) -> str:
    kafka, postgres = infra_module.planned_modes()
    return (
        f"rapport infra (when a test needs it): kafka={infra_module.planned_broker()} ({kafka}), "
        f"postgres={postgres}; launcher and end-to-end tests also start tansu"
    )


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Kafka and PostgreSQL for the whole session, started on first use and stopped at the end."""
    stack = infra_module.start_infra()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None:  # printed once, past output capture, so every run says which mode it used
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line("")
            reporter.write_line(stack.describe())
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(infra: Any) -> str:
    return str(infra.kafka_bootstrap_servers)


@pytest.fixture(scope="session")
def postgres_admin_url(infra: Any) -> str:
    return str(infra.postgres_admin_url)


@pytest.fixture(scope="session")
def kafka_idempotence(infra: Any) -> bool:
    """True for Apache Kafka, False for the embedded Tansu broker (its InitProducerId fails)."""
    return bool(infra.kafka_idempotence)


@pytest.fixture(scope="session")
async def _created_databases(infra: Any) -> AsyncIterator[list[str]]:
    from rapport_local.postgres import drop_database

    created: list[str] = []
    yield created
    if not infra.owns_postgres:
        for name in created:
            with contextlib.suppress(Exception):
                await drop_database(infra.postgres_admin_url, name)


@pytest.fixture(scope="session")
async def _created_topics(infra: Any) -> AsyncIterator[list[str]]:
    from rapport_local.topics import delete_topics

    created: list[str] = []
    yield created
    if not infra.owns_kafka and created:
        with contextlib.suppress(Exception):
            await delete_topics(infra.kafka_bootstrap_servers, created)


@pytest.fixture
async def make_database(infra: Any, _created_databases: list[str]) -> Callable[..., Awaitable[str]]:
    """Factory: ``url = await make_database()`` gives a new empty database on the session's server."""
    from rapport_local.postgres import ensure_database

    async def make(prefix: str = "t") -> str:
        name = infra_module.unique_name(prefix)
        await ensure_database(infra.postgres_admin_url, name)
        _created_databases.append(name)
        return str(infra.database_url(name))

    return make


@pytest.fixture
async def make_topics(infra: Any, _created_topics: list[str]) -> Callable[..., Awaitable[list[str]]]:
    """Factory: ``[a, b] = await make_topics(["a", "b"])`` gives new topics no other test uses."""
    from rapport_local.topics import ensure_topics

    async def make(
        names: Sequence[str], partitions: int = 6, *, dlq: bool = False, configs: dict[str, str] | None = None
    ) -> list[str]:
        if isinstance(names, str):
            raise TypeError("make_topics takes a list of names")
        run = infra_module.unique_name("t", separator="")
        unique = [f"{run}.{name}" for name in names]
        to_create = unique + [f"{topic}.dlq" for topic in unique] if dlq else unique
        await ensure_topics(infra.kafka_bootstrap_servers, to_create, partitions=partitions, configs=configs)
        _created_topics.extend(to_create)
        return unique

    return make
