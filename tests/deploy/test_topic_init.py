"""The topic-init job (deploy/docker/topic_init.py): its plan, and a real run against the broker."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from types import ModuleType
from typing import Any

import pytest

from rapport_common.events import TOPICS


@pytest.fixture(scope="module")
def topic_init(deploy: Any) -> ModuleType:
    path = deploy.DEPLOY / "docker" / "topic_init.py"
    spec = importlib.util.spec_from_file_location("rapport_deploy_topic_init", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bootstrap_servers(request: pytest.FixtureRequest) -> str:
    """The suite's broker fixture when tests/conftest.py provides it, else KAFKA_BOOTSTRAP_SERVERS / the dev broker."""
    try:
        return str(request.getfixturevalue("kafka_bootstrap_servers"))
    except pytest.FixtureLookupError:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")


def test_plans_the_contract_topics_and_their_dlqs(topic_init: ModuleType) -> None:
    planned = topic_init.planned_topics()
    assert planned == [*TOPICS, *(f"{t}.dlq" for t in TOPICS)]
    assert len(planned) == len(set(planned)) == 2 * len(TOPICS)


def test_plan_from_env(topic_init: ModuleType) -> None:
    assert topic_init.plan_from_env({}) == topic_init.TopicPlan(6, 1, None)
    plan = topic_init.plan_from_env(
        {"TOPIC_PARTITIONS": "12", "TOPIC_REPLICATION_FACTOR": "3", "TOPIC_MIN_INSYNC_REPLICAS": "2"}
    )
    assert plan == topic_init.TopicPlan(12, 3, 2)
    assert plan.configs() == {"min.insync.replicas": "2"}
    with pytest.raises(ValueError, match="TOPIC_MIN_INSYNC_REPLICAS"):
        topic_init.plan_from_env({"TOPIC_REPLICATION_FACTOR": "1", "TOPIC_MIN_INSYNC_REPLICAS": "2"})
    with pytest.raises(ValueError, match="TOPIC_PARTITIONS"):
        topic_init.plan_from_env({"TOPIC_PARTITIONS": "0"})


def test_shortfalls_report_topics_smaller_than_asked(topic_init: ModuleType) -> None:
    plan = topic_init.TopicPlan(6, 3)
    states = [
        topic_init.TopicState("a", 6, 3, created=True),
        topic_init.TopicState("b", 4, 3, created=False),
        topic_init.TopicState("c", 6, 1, created=False),
    ]
    assert [s.split(":")[0] for s in topic_init.shortfalls(states, plan)] == ["b", "c"]


async def test_creates_topics_idempotently_on_the_broker(topic_init: ModuleType, bootstrap_servers: str) -> None:
    """Against the real broker: first run creates 6 partitions each, a second run finds them and changes nothing."""
    suffix = uuid.uuid4().hex[:10]
    names = [f"deploytest-{suffix}.events", f"deploytest-{suffix}.events.dlq"]
    plan = topic_init.TopicPlan(partitions=6, replication_factor=1)
    try:
        first = await topic_init.ensure_topics(bootstrap_servers, names, plan, timeout_s=30)
    except TimeoutError as exc:
        pytest.fail(f"no broker answers at {bootstrap_servers} (set KAFKA_BOOTSTRAP_SERVERS): {exc}")
    assert [(s.name, s.partitions, s.replication_factor, s.created) for s in first] == [
        (name, 6, 1, True) for name in names
    ]
    second = await topic_init.ensure_topics(bootstrap_servers, names, plan, timeout_s=30)
    assert [(s.partitions, s.created) for s in second] == [(6, False), (6, False)]
    assert topic_init.shortfalls(second, plan) == []
