"""docker-compose.yml and its three-broker override: valid for docker-compose, healthy, and in step with the code."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rapport_common.events import TOPICS


@pytest.mark.parametrize("three_brokers", [False, True], ids=["single-broker", "three-brokers"])
def test_docker_compose_config_accepts_the_files(deploy: Any, three_brokers: bool) -> None:
    config = deploy.compose_config(three_brokers)
    assert {"postgres", "kafka", "topic-init", "otel-collector", "prometheus", "grafana"} <= set(config["services"])


@pytest.mark.parametrize("three_brokers", [False, True], ids=["single-broker", "three-brokers"])
def test_every_compose_service_has_a_healthcheck(deploy: Any, three_brokers: bool) -> None:
    config = deploy.compose_config(three_brokers)
    missing = []
    for name, svc in config["services"].items():
        check = svc.get("healthcheck") or {}
        if check.get("disable") or not check.get("test") or check["test"] in (["NONE"], "NONE"):
            missing.append(name)
    assert not missing, f"compose services without a healthcheck: {missing}"


def test_every_rapport_service_is_in_compose(deploy: Any, rapport_service: str) -> None:
    mapping = deploy.compose_rapport_services(deploy.compose_config())
    assert rapport_service in mapping.values(), (
        f"services/{rapport_service} has no compose service built from deploy/docker/{rapport_service}.Dockerfile"
    )


@pytest.mark.parametrize("three_brokers", [False, True], ids=["single-broker", "three-brokers"])
def test_compose_env_names_are_settings_the_code_reads(deploy: Any, three_brokers: bool) -> None:
    config = deploy.compose_config(three_brokers)
    problems = []
    for name, service in deploy.compose_rapport_services(config).items():
        settings = deploy.settings_of(service)
        env = config["services"][name].get("environment") or {}
        unknown = sorted(set(env) - settings.names)
        if unknown:
            problems.append(f"{name}: {unknown} are not fields of {settings.cls_name}")
        unset = sorted(settings.required - set(env))
        if unset:
            problems.append(f"{name}: required settings {unset} of {settings.cls_name} are not set")
    assert not problems, "\n".join(problems)


def test_compose_rapport_services_are_wired_for_containers(deploy: Any) -> None:
    config = deploy.compose_config()
    problems = []
    for name, service in deploy.compose_rapport_services(config).items():
        svc = config["services"][name]
        settings = deploy.settings_of(service)
        env = svc["environment"]
        database = "rapport_" + service.replace("-", "_")
        expect = {"HTTP_HOST": "0.0.0.0", "HTTP_PORT": str(deploy.CONTAINER_PORT)}
        if settings.uses_kafka:
            expect |= {"KAFKA_ENABLE_IDEMPOTENCE": "true", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in settings.names:
            expect["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://otel-collector:4318"
        for key, value in expect.items():
            if str(env.get(key)) != value:
                problems.append(f"{name}: {key}={env.get(key)!r}, expected {value!r}")
        if settings.has_database:
            url = str(env.get("DATABASE_URL", ""))
            if not re.fullmatch(rf"postgresql://{database}:[^@]+@postgres:5432/{database}", url):
                problems.append(f"{name}: DATABASE_URL must name role and database {database} on postgres:5432")
        elif "DATABASE_URL" in env:
            problems.append(f"{name}: {settings.cls_name} reads no DATABASE_URL, yet compose sets one")
        if not env.get("JWT_SECRET"):
            problems.append(f"{name}: JWT_SECRET is empty")
        if svc.get("image") != f"rapport/{service}:dev":
            problems.append(f"{name}: image {svc.get('image')!r}, expected rapport/{service}:dev")
        targets = {_container_port(p) for p in svc["ports"]}
        if targets != {deploy.CONTAINER_PORT}:
            problems.append(f"{name}: publishes container ports {targets}, expected {deploy.CONTAINER_PORT}")
        hosts = {str(p["host_ip"]) if isinstance(p, dict) else str(p).split(":", 1)[0] for p in svc["ports"]}
        if hosts != {"127.0.0.1"}:
            problems.append(f"{name}: ports must be published on 127.0.0.1 only, found {hosts}")
        test = " ".join(svc["healthcheck"]["test"])
        if f"127.0.0.1:{deploy.CONTAINER_PORT}/readyz" not in test:
            problems.append(f"{name}: healthcheck must ask /readyz on port {deploy.CONTAINER_PORT}: {test}")
        needs = svc.get("depends_on") or {}
        infrastructure = (["postgres"] if settings.has_database else []) + (["kafka"] if settings.uses_kafka else [])
        if settings.uses_kafka and needs.get("topic-init", {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: must wait for topic-init to complete")
        for infra in infrastructure:
            if needs.get(infra, {}).get("condition") != "service_healthy":
                problems.append(f"{name}: must wait for {infra} to be healthy")
    assert not problems, "\n".join(problems)


def test_service_urls_point_at_compose_services(deploy: Any) -> None:
    """Every ``*_URL`` setting given an ``http://`` address names a compose service on the container port."""
    config = deploy.compose_config()
    problems = []
    for name in deploy.compose_rapport_services(config):
        svc = config["services"][name]
        for key, value in (svc.get("environment") or {}).items():
            m = re.fullmatch(r"https?://([^:/]+):(\d+)/?", str(value or ""))
            if not key.endswith("_URL") or key == "OTEL_EXPORTER_OTLP_ENDPOINT" or not m:
                continue
            host, port = m.group(1), int(m.group(2))
            if host not in config["services"]:
                problems.append(f"{name}: {key}={value} names no compose service")
            elif port != deploy.CONTAINER_PORT:
                problems.append(f"{name}: {key}={value} is not port {deploy.CONTAINER_PORT}")
    assert not problems, "\n".join(problems)


def test_console_is_wired_to_the_four_services_without_demo_login(deploy: Any) -> None:
    for three in (False, True):
        console = deploy.compose_config(three)["services"]["console"]
        env = console["environment"]
        # its /readyz asks every upstream's /healthz, so it starts after they are healthy
        for upstream in ("intake", "session", "consent", "alliance-monitor"):
            assert console["depends_on"][upstream]["condition"] == "service_healthy", upstream
        assert {
            k: env.get(k)
            for k in ("INTAKE_SERVICE_URL", "SESSION_SERVICE_URL", "CONSENT_SERVICE_URL", "ALLIANCE_MONITOR_URL")
        } == {
            "INTAKE_SERVICE_URL": "http://intake:8000",
            "SESSION_SERVICE_URL": "http://session:8000",
            "CONSENT_SERVICE_URL": "http://consent:8000",
            "ALLIANCE_MONITOR_URL": "http://alliance-monitor:8000",
        }
        # demo sign-in hands out tokens to anyone: never on outside the embedded launcher
        assert str(env.get("CONSOLE_DEMO_LOGIN", "false")).lower() in ("false", "0", ""), env


def test_simulator_is_not_deployed_by_default(deploy: Any) -> None:
    """The simulator (a load driver minting tokens with the launcher's secret) is no production service: a
    plain ``up`` and the Kubernetes base never run it; compose may offer it only in the opt-in profile demo."""
    assert (deploy.REPO / "services" / "simulator").is_dir(), "the simulator moved: update this check"
    assert "simulator" not in deploy.rapport_services()
    checked = 0
    for three in (False, True):
        for name, svc in deploy.compose_config(three)["services"].items():
            checked += 1
            text = " ".join(
                str(x) for x in (name, svc.get("image"), (svc.get("build") or {}).get("dockerfile"), svc.get("command"))
            )
            if "simulator" in text:
                assert svc.get("profiles") == ["demo"], f"{name} must be in the opt-in profile 'demo' only"
    assert checked
    for doc in deploy.k8s_documents():
        assert "simulator" not in str(doc), f"the Kubernetes base deploys the simulator: {doc['metadata']['name']}"


def _container_port(port: object) -> int:
    """The container side of a compose port (long form, or ``host:container[/proto]``)."""
    if isinstance(port, dict):
        return int(port["target"])
    return int(str(port).rsplit(":", 1)[-1].split("/")[0])


def test_postgres_init_creates_one_database_per_service(deploy: Any, database_service: str) -> None:
    script = (deploy.DEPLOY / "compose" / "postgres-init" / "10-rapport-databases.sh").read_text(encoding="utf-8")
    database = "rapport_" + database_service.replace("-", "_")
    password_var = database_service.replace("-", "_").upper() + "_DB_PASSWORD"
    assert re.search(rf"^create_service_database {database} {database} \"\$\{{{password_var}:-\}}\"$", script, re.M), (
        f"the PostgreSQL init script does not create database {database} with password ${password_var}"
    )
    postgres_env = deploy.compose_config()["services"]["postgres"]["environment"]
    assert postgres_env.get(password_var), f"{password_var} is not passed to the postgres container"
    mounts = [str(v) for v in deploy.compose_config()["services"]["postgres"]["volumes"]]
    assert any("docker-entrypoint-initdb.d" in m and "postgres-init" in m for m in mounts)


def test_services_without_a_database_get_none(deploy: Any, databaseless_service: str) -> None:
    """No DATABASE_URL field means no database: no migrations to apply, no role, no password, no URL."""
    assert not deploy.migrations_of(databaseless_service), (
        f"{databaseless_service} ships SQL migrations but its settings read no DATABASE_URL"
    )
    script = (deploy.DEPLOY / "compose" / "postgres-init" / "10-rapport-databases.sh").read_text(encoding="utf-8")
    database = "rapport_" + databaseless_service.replace("-", "_")
    assert not re.search(rf"\b{database}\b", script), f"the init script creates {database}, which nothing reads"
    password_var = databaseless_service.replace("-", "_").upper() + "_DB_PASSWORD"
    assert password_var not in deploy.compose_config()["services"]["postgres"]["environment"]


def test_database_detection_matches_the_code(deploy: Any) -> None:
    """Guard the split above: the services with migrations are exactly those reading DATABASE_URL."""
    with_migrations = {s for s in deploy.rapport_services() if deploy.migrations_of(s)}
    assert with_migrations == set(deploy.services_with_database())
    assert {"intake", "session", "consent", "alliance-monitor"} <= set(deploy.services_with_database())


def test_kafka_single_broker_is_kraft_with_topics_from_init_only(deploy: Any) -> None:
    kafka = deploy.compose_config()["services"]["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"
    init = deploy.compose_config()["services"]["topic-init"]["environment"]
    assert (str(init["TOPIC_PARTITIONS"]), str(init["TOPIC_REPLICATION_FACTOR"])) == ("6", "1")


def test_three_broker_variant_replicates_three_ways(deploy: Any) -> None:
    config = deploy.compose_config(True)
    brokers = [
        name for name, svc in config["services"].items() if str(svc.get("image", "")).startswith("apache/kafka:")
    ]
    assert sorted(brokers) == ["kafka", "kafka-2", "kafka-3"]
    node_ids = set()
    for name in brokers:
        env = config["services"][name]["environment"]
        node_ids.add(str(env["KAFKA_NODE_ID"]))
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093", name
        assert str(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == "3", name
        assert str(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == "3", name
        assert str(env["KAFKA_MIN_INSYNC_REPLICAS"]) == "2", name
        assert env["KAFKA_CLUSTER_ID" if "KAFKA_CLUSTER_ID" in env else "CLUSTER_ID"], name
        assert "healthcheck" in config["services"][name], name
    assert node_ids == {"1", "2", "3"}
    init = config["services"]["topic-init"]
    assert str(init["environment"]["TOPIC_REPLICATION_FACTOR"]) == "3"
    assert str(init["environment"]["TOPIC_MIN_INSYNC_REPLICAS"]) == "2"
    assert set(init["depends_on"]) >= {"kafka", "kafka-2", "kafka-3"}
    three = "kafka:9092,kafka-2:9092,kafka-3:9092"
    assert init["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == three
    for name, service in deploy.compose_rapport_services(config).items():
        if deploy.settings_of(service).uses_kafka:
            assert config["services"][name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == three, name


def test_secrets_are_required_not_defaulted(deploy: Any, tmp_path: Any) -> None:
    """Without an env file the compose file refuses to render, naming the missing secret."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = deploy.run_compose_config(deploy.COMPOSE_FILE, env_file=empty)
    assert result.returncode != 0
    assert re.search(r"set \w+ in deploy/compose.env", result.stderr), result.stderr


def test_env_example_names_every_variable_the_compose_files_use(deploy: Any) -> None:
    example = {
        line.split("=", 1)[0].strip()
        for line in deploy.ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    used = set()
    for path in (deploy.COMPOSE_FILE, deploy.THREE_BROKERS):
        used |= set(re.findall(r"\$\{([A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    optional = {"RAPPORT_VERSION"}  # image tag, documented in deploy/README.md
    assert used - optional <= example, f"not in deploy/compose.env.example: {sorted(used - optional - example)}"


def test_real_env_file_is_git_ignored(deploy: Any) -> None:
    ignored = (deploy.REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/compose.env" in ignored


def test_topic_init_job_reads_topics_from_the_contract(deploy: Any) -> None:
    """The job's topic list is the contract's (TOPICS + .dlq); nothing in deploy/ hard-codes a topic."""
    deploy_text = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [deploy.COMPOSE_FILE, deploy.THREE_BROKERS, *(deploy.K8S_BASE.glob("*.yaml"))]
    )
    for topic in TOPICS:
        assert topic not in deploy_text, f"{topic} is hard-coded in the deployment files"
