"""The topic-init job (deploy/docker/topic_init.py): its plan, and a real run against the broker."""

from __future__ import annotations

import os
import uuid
from types import ModuleType
from typing import Any

import pytest

from rapport_common.events import TOPICS


@pytest.fixture(scope="module")
def topic_init(deploy: Any) -> ModuleType:
    return deploy.load_topic_init()


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


# --- security: the grant table, passwords, when the job manages users and ACLs ------------------------------


def test_grant_table_equals_the_local_brokers(topic_init: ModuleType) -> None:
    """The job's copy of SERVICE_GRANTS (its image has no deploy/local) is the table the embedded launcher's
    Apache Kafka applies, and so are the ACL bindings made from it."""
    from rapport_local import kafka_security

    def table(grants: dict[str, Any]) -> dict[str, tuple[frozenset[str], frozenset[str], str]]:
        return {s: (frozenset(g.writes), frozenset(g.reads), g.group_prefix) for s, g in grants.items()}

    assert table(topic_init.SERVICE_GRANTS) == table(kafka_security.SERVICE_GRANTS)
    ours = set(topic_init.acl_bindings(topic_init.SERVICE_GRANTS))
    theirs = set(kafka_security.acl_bindings(kafka_security.SERVICE_GRANTS))
    assert ours == theirs
    assert len(ours) == len(topic_init.acl_bindings(topic_init.SERVICE_GRANTS)), "a binding is listed twice"
    assert topic_init.MECHANISM == kafka_security.MECHANISM


def test_grants_cover_the_kafka_services_and_name_planned_topics(deploy: Any, topic_init: ModuleType) -> None:
    kafka_services = {s for s in deploy.rapport_services() if deploy.settings_of(s).uses_kafka}
    assert set(topic_init.SERVICE_GRANTS) == kafka_services
    planned = set(topic_init.planned_topics())
    for service, grant in topic_init.SERVICE_GRANTS.items():
        assert set(grant.writes) | set(grant.reads) <= planned, service
        assert grant.group_prefix == service
        assert not any(t.endswith(".dlq") for t in grant.reads), f"{service} reads a dead-letter topic"


def test_services_consumer_groups_start_with_their_name(deploy: Any, topic_init: ModuleType) -> None:
    """The ACLs allow a service only groups prefixed with its name: every group its settings name must be one."""
    import importlib

    from pydantic_settings import BaseSettings

    checked = 0
    for service in topic_init.SERVICE_GRANTS:
        module = importlib.import_module(f"{deploy.module_of(service)}.settings")
        for cls in vars(module).values():
            if not (isinstance(cls, type) and issubclass(cls, BaseSettings) and cls.__module__ == module.__name__):
                continue
            for name, info in cls.model_fields.items():
                if name.endswith("consumer_group"):
                    checked += 1
                    assert str(info.default).startswith(service), f"{service}.{name}={info.default!r}"
    assert checked >= 4


def test_service_passwords_come_from_their_own_variables(topic_init: ModuleType) -> None:
    assert topic_init.password_variable("alliance-monitor") == "ALLIANCE_MONITOR_KAFKA_PASSWORD"
    env = {topic_init.password_variable(s): f"password-of-{s}-0123456789" for s in topic_init.SERVICE_GRANTS}
    assert topic_init.service_passwords(env) == {s: f"password-of-{s}-0123456789" for s in topic_init.SERVICE_GRANTS}
    with pytest.raises(ValueError, match="SESSION_KAFKA_PASSWORD"):
        topic_init.service_passwords({k: v for k, v in env.items() if not k.startswith("SESSION")})
    with pytest.raises(ValueError, match="at least 16"):
        topic_init.service_passwords(env | {"INTAKE_KAFKA_PASSWORD": "short"})
    with pytest.raises(ValueError, match="at least 16"):
        topic_init.service_passwords(env | {"INTAKE_KAFKA_PASSWORD": "has,a,comma,and]bracket"})
    with pytest.raises(ValueError, match="own Kafka password"):
        topic_init.service_passwords(env | {"INTAKE_KAFKA_PASSWORD": env["CONSENT_KAFKA_PASSWORD"]})


def test_security_is_managed_exactly_when_logging_in_with_sasl(topic_init: ModuleType) -> None:
    plain = topic_init.connection_from_env({})
    assert plain.bootstrap_servers == "kafka:9092" and plain.security_protocol == "PLAINTEXT"
    assert topic_init.manages_security({}, plain) is False
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "admin",
        "KAFKA_SASL_PASSWORD": "admin-password-0123456789",
        "KAFKA_SSL_CAFILE": "/run/secrets/kafka-ca",
    }
    secured = topic_init.connection_from_env(env)
    assert secured.librdkafka_options()["sasl.username"] == "admin"
    assert topic_init.manages_security(env, secured) is True
    assert topic_init.manages_security(env | {"TOPIC_INIT_SECURITY": "false"}, secured) is False
    with pytest.raises(ValueError, match="TOPIC_INIT_SECURITY"):
        topic_init.manages_security({"TOPIC_INIT_SECURITY": "true"}, plain)
    # a secured run without the services' passwords fails before it touches the cluster
    with pytest.raises(ValueError, match="INTAKE_KAFKA_PASSWORD"):
        topic_init.run(env | {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})


def test_topic_init_image_installs_the_locked_confluent_kafka(deploy: Any) -> None:
    """ACLs and SCRAM credentials need confluent-kafka, installed beside rapport-common at uv.lock's version."""
    import re
    import tomllib

    lock = tomllib.loads((deploy.REPO / "uv.lock").read_text(encoding="utf-8"))
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "confluent-kafka"]
    dockerfile = deploy.DEPLOY / "docker" / "topic-init.Dockerfile"
    instructions, stages = deploy.parse_dockerfile(dockerfile)
    pins = [m for i in instructions if i.keyword == "ARG" for m in re.findall(r"CONFLUENT_KAFKA_VERSION=(\S+)", i.args)]
    assert pins == [locked], f"{dockerfile.name} pins confluent-kafka {pins}, uv.lock {locked}"
    runs = " ".join(i.args for i in stages[0].all("RUN"))
    assert 'confluent-kafka==${CONFLUENT_KAFKA_VERSION}"' in runs
