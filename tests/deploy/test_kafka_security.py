"""Apache Kafka in compose and Kubernetes: the pinned version, broker security (SASL/SCRAM-SHA-512 over TLS, mTLS
between nodes, ACLs), one principal and one secret per service, no password written into a file of the repository.

Static checks of the files, plus one run of the compose broker's own start script (deploy/compose/kafka/kafka-start.sh)
with the compose broker's environment on the pinned Apache Kafka jars, followed by the topic-init job and the
services' principals: it proves that the settings in docker-compose.yml make a broker that authenticates and
enforces the grant table. No Docker engine runs here, so the containers themselves are never started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

KAFKA_SERVICES = ("intake", "session", "consent", "alliance-monitor")
NODE_PRINCIPAL = "User:rapport-kafka-node"
SECRET_NAME = re.compile(r"PASSWORD|SECRET", re.IGNORECASE)
REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):\?[^}]+\}")
#: the settings of a broker that only its identity changes (the rest must agree between nodes)
NODE_SPECIFIC = {"KAFKA_NODE_ID", "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS"}


def _password_variable(service: str) -> str:
    return service.replace("-", "_").upper() + "_KAFKA_PASSWORD"


def _brokers(deploy: Any, three: bool) -> list[str]:
    services = deploy.compose_config(three)["services"]
    return sorted(name for name, svc in services.items() if str(svc.get("image", "")).startswith("apache/kafka:"))


def _raw_yaml(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, key, value) of every mapping entry below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}/{key}", key, value
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


# --- one pinned Apache Kafka version ------------------------------------------------------------------------


def _kafka_image_problems(docs: list[dict[str, Any]], where: str, version: str) -> tuple[int, list[str]]:
    """How many Kafka images ``docs`` name, and those that are not apache/kafka:<version>."""
    found, problems = 0, []
    for path, key, value in (entry for doc in docs for entry in _walk(doc)):
        image = None
        if key == "image" and isinstance(value, str):
            image = value
        elif key == "images" and isinstance(value, list):  # kustomize image overrides
            for entry in value:
                if isinstance(entry, dict) and "kafka" in str(entry.get("name", "")).lower():
                    found += 1
                    tag = entry.get("newTag")
                    if entry.get("name") != "apache/kafka" or entry.get("newName") or str(tag) != version:
                        problems.append(f"{where}{path}: kustomize image {entry} is not apache/kafka:{version}")
        if image is None or "kafka" not in image.lower() or image.startswith("rapport/"):
            continue
        found += 1
        if image != f"apache/kafka:{version}":
            problems.append(f"{where}{path}: {image} (expected apache/kafka:{version})")
    return found, problems


def test_pinned_kafka_version_is_read_from_the_pom(deploy: Any) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", deploy.pinned_kafka_version())
    assert deploy.pinned_kafka_version() == "4.1.1"  # the version issue 15 pins; change both together


def test_every_kafka_image_is_the_pinned_version(deploy: Any) -> None:
    """docker-compose.yml, deploy/compose/*.yml and deploy/k8s/** run exactly the pom's Apache Kafka."""
    version = deploy.pinned_kafka_version()
    compose_found, k8s_found, problems = 0, 0, []
    for path in deploy.raw_compose_files():
        found, wrong = _kafka_image_problems(_raw_yaml(path), path.name, version)
        compose_found += found
        problems += wrong
    for three in (False, True):
        found, wrong = _kafka_image_problems([deploy.compose_config(three)], f"compose config three={three}", version)
        compose_found += found
        problems += wrong
    for path in [*deploy.k8s_files(), *sorted((deploy.DEPLOY / "k8s").rglob("*.yml"))]:
        found, wrong = _kafka_image_problems(_raw_yaml(path), str(path.relative_to(deploy.REPO)), version)
        k8s_found += found
        problems += wrong
    assert not problems, "\n".join(problems)
    assert compose_found >= 3 and k8s_found >= 2, "the check found no Kafka image to compare"
    # and in prose: comments, the env example and the operator guide name the same image
    for path in [*deploy.raw_compose_files(), *deploy.k8s_files(), deploy.ENV_EXAMPLE, deploy.DEPLOY / "README.md"]:
        for tag in re.findall(r"apache/kafka(?:-native)?:([\w.\-]+)", path.read_text(encoding="utf-8")):
            assert tag == version, f"{path.relative_to(deploy.REPO)} mentions apache/kafka:{tag}, pinned {version}"


def test_version_check_catches_another_version(deploy: Any) -> None:
    """Guards the check above: a differing tag, another vendor's image or a kustomize override is reported."""
    version = deploy.pinned_kafka_version()
    docs = [
        {"services": {"kafka": {"image": "apache/kafka:3.9.1"}, "k2": {"image": "bitnami/kafka:4.1.1"}}},
        {"spec": {"containers": [{"image": f"apache/kafka:{version}"}]}},
        {"images": [{"name": "apache/kafka", "newTag": "4.0.0"}]},
    ]
    found, problems = _kafka_image_problems(docs, "t", version)
    assert found == 4 and len(problems) == 3, problems


# --- compose: brokers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("three_brokers", [False, True], ids=["single-broker", "three-brokers"])
def test_compose_brokers_authenticate_every_listener_and_enforce_acls(deploy: Any, three_brokers: bool) -> None:
    brokers = _brokers(deploy, three_brokers)
    assert brokers == (["kafka", "kafka-2", "kafka-3"] if three_brokers else ["kafka"])
    config = deploy.compose_config(three_brokers)
    for name in brokers:
        env = deploy.compose_environment(name, three_brokers)
        protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        assert protocols == {"CLIENT": "SASL_SSL", "CONTROLLER": "SSL", "INTERNAL": "SSL", "EXTERNAL": "SASL_SSL"}
        listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
        advertised = {item.split("://")[0] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
        assert listeners == set(protocols) and advertised == set(protocols) - {"CONTROLLER"}, name
        assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
        assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
        # mutual TLS between nodes; SCRAM-SHA-512 on the SASL listeners, with a login module each
        assert env["KAFKA_LISTENER_NAME_INTERNAL_SSL_CLIENT_AUTH"] == "required"
        assert env["KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH"] == "required"
        assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
        for listener in (n for n, p in protocols.items() if p.startswith("SASL_")):
            prefix = f"KAFKA_LISTENER_NAME_{listener}_"
            assert env[prefix + "SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512", listener
            assert "ScramLoginModule required" in env[prefix + "SCRAM___SHA___512_SASL_JAAS_CONFIG"], listener
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        assert set(env["KAFKA_SUPER_USERS"].split(";")) == {"User:admin", NODE_PRINCIPAL}
        assert env["KAFKA_SSL_PRINCIPAL_MAPPING_RULES"] == "RULE:^CN=([^,]+).*$/$1/,DEFAULT"
        assert env["KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"] == "https"
        # TLS material from compose secrets, never from the image or the repository
        svc = config["services"][name]
        secrets = {s["source"] if isinstance(s, dict) else s for s in svc["secrets"]}
        assert secrets == {"kafka-ca", "kafka-node-keystore"}, name
        assert env["KAFKA_SSL_KEYSTORE_LOCATION"] == "/run/secrets/kafka-node-keystore"
        assert env["KAFKA_SSL_TRUSTSTORE_LOCATION"] == "/run/secrets/kafka-ca"
        assert env["KAFKA_SSL_KEYSTORE_TYPE"] == env["KAFKA_SSL_TRUSTSTORE_TYPE"] == "PEM"
        # the start script formats with the admin's credential; the healthcheck speaks mTLS to INTERNAL
        assert svc["entrypoint"] == ["bash", "/opt/rapport/kafka-start.sh"], name
        assert any(str(v).endswith("deploy/compose/kafka/kafka-start.sh:/opt/rapport/kafka-start.sh:ro")
                   for v in svc["volumes"]), name  # fmt: skip
        test = " ".join(svc["healthcheck"]["test"])
        assert "localhost:9094" in test and "rapport-node-client.properties" in test, test
        assert env["CLUSTER_ID"] and env["SCRAM_ADMIN_PASSWORD"]
    for name in config["secrets"]:
        assert config["secrets"][name]["file"].endswith({"kafka-ca": "/ca.pem"}.get(name, f"/{name}.pem")), name


def test_three_broker_nodes_agree_on_all_but_their_identity(deploy: Any) -> None:
    envs = {name: deploy.compose_environment(name, True) for name in _brokers(deploy, True)}
    common = {name: {k: v for k, v in env.items() if k not in NODE_SPECIFIC} for name, env in envs.items()}
    assert common["kafka-2"] == common["kafka"] and common["kafka-3"] == common["kafka"]
    single = deploy.compose_environment("kafka")
    security = {k for k in single if re.match(r"KAFKA_(SSL|SASL|LISTENER|AUTHORIZER|ALLOW|SUPER)", k)}
    assert {k: single[k] for k in security} == {k: envs["kafka"][k] for k in security}


def test_tls_script_covers_the_compose_host_names(deploy: Any) -> None:
    """make-tls.sh's default certificate names every broker host the clients and nodes use, and its subject is
    the nodes' super user."""
    script = deploy.MAKE_TLS.read_text(encoding="utf-8")
    (defaults,) = re.findall(r"\|\| names=\(([^)]*)\)", script)
    names = set(defaults.split())
    for three in (False, True):
        for name in _brokers(deploy, three):
            env = deploy.compose_environment(name, three)
            hosts = {re.sub(r":\d+$", "", a.split("://")[1]) for a in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
            assert hosts <= names, f"{name} advertises {hosts - names}, not in the certificate"
    assert '-subj "/CN=rapport-kafka-node"' in script
    assert NODE_PRINCIPAL == "User:" + "rapport-kafka-node"


def test_tls_script_makes_a_chain_python_and_kafka_can_use(deploy: Any, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: make-tls.sh cannot be checked")
    tls = tmp_path / "tls"
    subprocess.run(["bash", str(deploy.MAKE_TLS), "-d", str(tls), "kafka", "localhost"], check=True, timeout=60)
    assert {p.name for p in tls.iterdir()} == {"ca.pem", "ca-key.pem", "kafka-node-keystore.pem"}
    assert (tls / "ca-key.pem").stat().st_mode & 0o077 == 0
    assert (tls / "kafka-node-keystore.pem").stat().st_mode & 0o077 == 0
    keystore = (tls / "kafka-node-keystore.pem").read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----"), "Kafka's PEM key store needs a PKCS#8 key first"
    assert keystore.count("BEGIN CERTIFICATE") == 2
    import ssl

    context = ssl.create_default_context(cafile=str(tls / "ca.pem"))
    context.load_cert_chain(str(tls / "kafka-node-keystore.pem"))
    again = subprocess.run(["bash", str(deploy.MAKE_TLS), "-d", str(tls)], capture_output=True, text=True, check=False)
    assert again.returncode != 0 and "exists" in again.stderr, "it must not overwrite keys without -f"


def test_tls_material_is_git_ignored(deploy: Any) -> None:
    ignore = (deploy.DEPLOY / "compose" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/tls/" in ignore
    assert deploy.env_example()["KAFKA_TLS_DIR"] == "./deploy/compose/tls"
    tracked = subprocess.run(
        ["git", "ls-files", "--", "deploy"], cwd=deploy.REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    keys = [f for f in tracked if re.search(r"\.(pem|key|p12|jks|keystore)$", f)]
    assert not keys, f"key material is committed: {keys}"


# --- compose: clients --------------------------------------------------------------------------------------


@pytest.mark.parametrize("three_brokers", [False, True], ids=["single-broker", "three-brokers"])
def test_each_compose_service_logs_in_as_its_own_principal(deploy: Any, three_brokers: bool) -> None:
    config = deploy.compose_config(three_brokers)
    raw = yaml.safe_load(deploy.COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    users, variables, resolved = {}, {}, {}
    for name, service in deploy.compose_rapport_services(config).items():
        if not deploy.settings_of(service).uses_kafka:
            assert not any(k.startswith("KAFKA_") for k in config["services"][name].get("environment") or {}), name
            continue
        env = deploy.compose_environment(name, three_brokers)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["KAFKA_SSL_CAFILE"] == "/run/secrets/kafka-ca", name
        secrets = {s["source"] if isinstance(s, dict) else s for s in config["services"][name]["secrets"]}
        assert secrets == {"kafka-ca"}, f"{name} mounts {secrets}: a service needs the CA only, never a key"
        users[name] = env["KAFKA_SASL_USERNAME"]
        match = REQUIRED_VARIABLE.fullmatch(str(raw[name]["environment"]["KAFKA_SASL_PASSWORD"]))
        assert match, f"{name}: KAFKA_SASL_PASSWORD must be a required ${{VAR:?...}} from deploy/compose.env"
        variables[name] = match.group(1)
        resolved[name] = env["KAFKA_SASL_PASSWORD"]
    assert users == {s: s for s in KAFKA_SERVICES}, "each service logs in as the principal named after it"
    assert variables == {s: _password_variable(s) for s in KAFKA_SERVICES}
    assert len(set(resolved.values())) == len(resolved), "two services share a password"
    # topic-init sets exactly those passwords, logged in as admin with the brokers' admin password
    init = deploy.compose_environment("topic-init", three_brokers)
    raw_init = raw["topic-init"]["environment"]
    assert init["KAFKA_SASL_USERNAME"] == "admin" and init["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    for service in KAFKA_SERVICES:
        variable = _password_variable(service)
        assert REQUIRED_VARIABLE.fullmatch(raw_init[variable]).group(1) == variable  # type: ignore[union-attr]
        assert init[variable] == resolved[service]
    admin = REQUIRED_VARIABLE.fullmatch(raw_init["KAFKA_SASL_PASSWORD"])
    assert admin and admin.group(1) == "KAFKA_ADMIN_PASSWORD"
    for broker in _brokers(deploy, three_brokers):
        assert deploy.compose_environment(broker, three_brokers)["SCRAM_ADMIN_PASSWORD"] == init["KAFKA_SASL_PASSWORD"]
    assert init["KAFKA_SASL_PASSWORD"] not in resolved.values()


@pytest.mark.parametrize(
    "variable",
    ["KAFKA_ADMIN_PASSWORD", "KAFKA_TLS_DIR", *(_password_variable(s) for s in KAFKA_SERVICES)],
)
@pytest.mark.parametrize("three_brokers", [False, True], ids=["single-broker", "three-brokers"])
def test_a_missing_kafka_secret_stops_compose(deploy: Any, tmp_path: Path, variable: str, three_brokers: bool) -> None:
    example = deploy.ENV_EXAMPLE.read_text(encoding="utf-8")
    env_file = tmp_path / "compose.env"
    env_file.write_text(re.sub(rf"^{variable}=.*$", "", example, flags=re.M))
    files = (deploy.COMPOSE_FILE, deploy.THREE_BROKERS) if three_brokers else (deploy.COMPOSE_FILE,)
    result = deploy.run_compose_config(*files, env_file=env_file)
    assert result.returncode != 0, f"compose renders without {variable}"
    assert f"set {variable} in deploy/compose.env" in result.stderr, result.stderr


def test_no_default_or_literal_password_in_compose(deploy: Any) -> None:
    """Every secret in a compose file is a required variable of deploy/compose.env: no default, no literal."""
    problems = []
    for path in deploy.raw_compose_files():
        text = path.read_text(encoding="utf-8")
        for name, default in re.findall(r"\$\{(\w+):?-([^}]*)\}", text):
            if SECRET_NAME.search(name):
                problems.append(f"{path.name}: ${{{name}}} has a default ({default!r})")
        for doc in _raw_yaml(path):
            for where, key, value in _walk(doc):
                if not isinstance(key, str) or isinstance(value, dict | list):
                    continue
                value = str(value)
                if SECRET_NAME.search(key) and not REQUIRED_VARIABLE.fullmatch(value):
                    problems.append(f"{path.name}{where}: {value!r} is not a required ${{VAR:?...}}")
                for secret in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                    if not REQUIRED_VARIABLE.fullmatch(secret):
                        problems.append(f"{path.name}{where}: URL password {secret!r} is not a required variable")
    for script in sorted((deploy.DEPLOY / "compose" / "kafka").glob("*.sh")):
        # ${VAR:-} (empty) is how the script tests that a variable is set; any other default would be a password
        for name, default in re.findall(r"\$\{(\w+):?[-=]([^}]*)\}", script.read_text(encoding="utf-8")):
            if SECRET_NAME.search(name) and default:
                problems.append(f"{script.name}: ${{{name}}} has a default ({default!r})")
    assert not problems, "\n".join(problems)


def test_env_example_holds_only_placeholder_secrets(deploy: Any) -> None:
    example = deploy.env_example()
    secrets = {k: v for k, v in example.items() if SECRET_NAME.search(k)}
    for variable in ("KAFKA_ADMIN_PASSWORD", *(_password_variable(s) for s in KAFKA_SERVICES)):
        assert variable in secrets, f"deploy/compose.env.example does not show {variable}"
    for key, value in secrets.items():
        assert value.startswith("change-me"), f"{key}={value!r} is not an obvious placeholder"
    assert len(set(secrets.values())) == len(secrets), "placeholders must differ, so a copy-paste mistake shows"


def test_kafka_start_script_copies_are_equal(deploy: Any) -> None:
    """deploy/k8s/kafka holds a copy (kustomize reads files below its own directory only)."""
    assert (deploy.K8S_KAFKA / "kafka-start.sh").read_bytes() == deploy.KAFKA_START.read_bytes()


# --- the start script, without Java: what it writes and what it runs -------------------------------------------


def _fake_kafka_bin(directory: Path) -> Path:
    """kafka-storage.sh and kafka-server-start.sh that record their arguments instead of running Kafka."""
    directory.mkdir()
    for tool in ("kafka-storage.sh", "kafka-server-start.sh"):
        (directory / tool).write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" > "{directory}/{tool}.args"\n')
        (directory / tool).chmod(0o755)
    return directory


def _start_script_env(deploy: Any, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = deploy.compose_environment("kafka")
    tls = tmp_path / "tls"
    tls.mkdir(exist_ok=True)
    for name in ("kafka-node-keystore.pem", "ca.pem"):
        (tls / name).write_text("placeholder\n")
    env |= {
        "KAFKA_SSL_KEYSTORE_LOCATION": str(tls / "kafka-node-keystore.pem"),
        "KAFKA_SSL_TRUSTSTORE_LOCATION": str(tls / "ca.pem"),
        "RAPPORT_KAFKA_CONFIG_DIR": str(tmp_path / "config"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "KAFKA_HEAP_OPTS": "-Xmx1g",
    }
    return env | extra


def _properties(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_start_script_writes_the_compose_settings_and_formats_with_the_admin(deploy: Any, tmp_path: Path) -> None:
    fake = _fake_kafka_bin(tmp_path / "bin")
    env = _start_script_env(deploy, tmp_path, RAPPORT_KAFKA_BIN=str(fake))
    result = subprocess.run(["bash", str(deploy.KAFKA_START)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    properties = _properties(tmp_path / "config" / "rapport-server.properties")
    expected = {
        "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SSL,INTERNAL:SSL,EXTERNAL:SASL_SSL",
        "listener.name.client.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "listener.name.internal.ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": "User:admin;User:rapport-kafka-node",
        "node.id": "1",
        "auto.create.topics.enable": "false",
    }
    assert {k: properties.get(k) for k in expected} == expected
    assert "heap.opts" not in properties, "launcher variables are not broker properties"
    assert not any("password" in key for key in properties), "no secret goes into server.properties"
    assert env["SCRAM_ADMIN_PASSWORD"] not in (tmp_path / "config" / "rapport-server.properties").read_text()
    storage = (fake / "kafka-storage.sh.args").read_text().splitlines()
    assert storage[:1] == ["format"] and "--ignore-formatted" in storage
    assert storage[storage.index("--cluster-id") + 1] == env["CLUSTER_ID"]
    scram = storage[storage.index("--add-scram") + 1]
    assert scram == f"SCRAM-SHA-512=[name=admin,password={env['SCRAM_ADMIN_PASSWORD']}]"
    start = (fake / "kafka-server-start.sh.args").read_text().split()
    assert start == [str(tmp_path / "config" / "rapport-server.properties")]
    client = _properties(tmp_path / "config" / "rapport-node-client.properties")
    assert (
        client["security.protocol"] == "SSL" and client["ssl.keystore.location"] == env["KAFKA_SSL_KEYSTORE_LOCATION"]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SCRAM_ADMIN_PASSWORD": ""}, "SCRAM_ADMIN_PASSWORD is not set"),
        ({"SCRAM_ADMIN_PASSWORD": "short"}, "at least 16"),
        ({"SCRAM_ADMIN_PASSWORD": "long-enough-but-has],comma"}, "at least 16"),
        ({"CLUSTER_ID": ""}, "CLUSTER_ID is not set"),
        ({"KAFKA_SSL_KEYSTORE_LOCATION": "/nonexistent/keystore.pem"}, "not readable"),
    ],
)
def test_start_script_refuses_what_would_fail_later(
    deploy: Any, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    fake = _fake_kafka_bin(tmp_path / "bin")
    env = _start_script_env(deploy, tmp_path, RAPPORT_KAFKA_BIN=str(fake)) | change
    result = subprocess.run(["bash", str(deploy.KAFKA_START)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert not (fake / "kafka-storage.sh.args").exists(), "nothing may be formatted"


def test_start_script_reads_the_node_id_from_a_statefulset_hostname(deploy: Any, tmp_path: Path) -> None:
    fake = _fake_kafka_bin(tmp_path / "bin")
    env = _start_script_env(deploy, tmp_path, RAPPORT_KAFKA_BIN=str(fake), HOSTNAME="kafka-2")
    env["RAPPORT_NODE_ID_FROM_HOSTNAME"] = "true"
    del env["KAFKA_NODE_ID"]
    result = subprocess.run(["bash", str(deploy.KAFKA_START)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert _properties(tmp_path / "config" / "rapport-server.properties")["node.id"] == "2"


# --- Kubernetes ----------------------------------------------------------------------------------------------


def _k8s_all_documents(deploy: Any) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in deploy.k8s_files() for doc in deploy.k8s_file_documents(path)]


def test_no_password_or_secret_literal_in_kubernetes(deploy: Any) -> None:
    """Secrets come from Secret objects made outside git: no Secret in the manifests, every password or secret
    variable a secretKeyRef."""
    problems = []
    docs = _k8s_all_documents(deploy)
    assert docs
    for path, doc in docs:
        where = f"{path.relative_to(deploy.REPO)} {doc['kind']}/{doc.get('metadata', {}).get('name', '')}"
        if doc["kind"] == "Secret":
            problems.append(f"{where}: a Secret is committed")
        for entry_path, key, value in _walk(doc):
            if key == "env" and isinstance(value, list):
                for var in value:
                    if SECRET_NAME.search(var["name"]) and ("value" in var or "secretKeyRef" not in var["valueFrom"]):
                        problems.append(f"{where}{entry_path}: {var['name']} is not read from a Secret")
            if isinstance(value, str) and re.search(r"://[^:/@\s]+:[^@\s]+@", value):
                problems.append(f"{where}{entry_path}: a URL with a password")
            if isinstance(key, str) and key.lower() in ("password", "sasl.password") and isinstance(value, str):
                problems.append(f"{where}{entry_path}: literal password")
    assert not problems, "\n".join(problems)


def test_k8s_services_log_in_as_their_own_principal_from_their_own_secret(deploy: Any) -> None:
    deployments = {d["metadata"]["name"]: d for d in deploy.k8s_documents() if d["kind"] == "Deployment"}
    configmap = next(
        d for d in deploy.k8s_documents() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rapport-config"
    )
    data = configmap["data"]
    assert data["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and data["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    ca_dir, ca_name = data["KAFKA_SSL_CAFILE"].rsplit("/", 1)
    password_refs = {}
    for service in KAFKA_SERVICES:
        dep = deployments[service]
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        for container in deploy.pod_containers(dep):
            env = {v["name"]: v for v in container["env"]}
            assert env["KAFKA_SASL_USERNAME"].get("value") == service, f"{service}/{container['name']}"
            ref = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": f"rapport-{service}", "key": "KAFKA_SASL_PASSWORD"}, f"{service}/{container['name']}"
            password_refs[service] = ref["name"]
            mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == ca_dir]
            assert mounts and mounts[0].get("readOnly") is True, f"{service}/{container['name']} lacks {ca_dir}"
            secret = volumes[mounts[0]["name"]]["secret"]
            assert secret["secretName"] == "rapport-kafka-ca", service
            assert "items" not in secret or ca_name in {i["path"] for i in secret["items"]}
    assert len(set(password_refs.values())) == len(KAFKA_SERVICES)
    readme = (deploy.DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in ("rapport-kafka-ca", "rapport-kafka-admin", "kafka-tls", "kafka-admin", "KAFKA_SASL_PASSWORD"):
        assert name in readme, f"deploy/README.md must tell how to create {name}"


def test_k8s_topic_init_sets_the_passwords_the_services_use(deploy: Any) -> None:
    (job,) = [d for d in deploy.k8s_documents() if d["kind"] == "Job" and d["metadata"]["name"] == "topic-init"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {v["name"]: v for v in container["env"]}
    assert env["KAFKA_SASL_USERNAME"]["value"] == "admin"
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "rapport-kafka-admin",
        "key": "KAFKA_SASL_PASSWORD",
    }
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SSL_CAFILE", "KAFKA_BOOTSTRAP_SERVERS"):
        assert env[name]["valueFrom"]["configMapKeyRef"] == {"name": "rapport-config", "key": name}
    for service in KAFKA_SERVICES:
        ref = env[_password_variable(service)]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"rapport-{service}", "key": "KAFKA_SASL_PASSWORD"}, service
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    (mount,) = container["volumeMounts"]
    assert volumes[mount["name"]]["secret"]["secretName"] == "rapport-kafka-ca"


def test_k8s_kafka_cluster_matches_the_compose_brokers(deploy: Any) -> None:
    docs = deploy.k8s_kafka_documents()
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    pod = sts["spec"]["template"]["spec"]
    assert container["image"] == f"apache/kafka:{deploy.pinned_kafka_version()}"
    assert container["command"] == ["bash", "/opt/rapport/kafka-start.sh"]
    assert pod["enableServiceLinks"] is False, "service links would add KAFKA_* variables, i.e. broker properties"
    assert sts["spec"]["podManagementPolicy"] == "Parallel" and sts["spec"]["replicas"] == 3
    env = {v["name"]: v for v in container["env"]}
    assert env["SCRAM_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "kafka-admin", "key": "password"}
    values = {name: v["value"] for name, v in env.items() if "value" in v}
    compose = deploy.compose_environment("kafka", True)
    security = {
        k
        for k in compose
        if re.match(r"KAFKA_(SSL|SASL|LISTENER_NAME_(CLIENT|INTERNAL|CONTROLLER)|AUTHORIZER|ALLOW|SUPER)", k)
        and not k.endswith("_LOCATION")
    }
    assert {k: values.get(k) for k in security} == {k: compose[k] for k in security}
    protocols = dict(item.split(":") for item in values["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {"CLIENT": "SASL_SSL", "CONTROLLER": "SSL", "INTERNAL": "SSL"}
    for key in ("KAFKA_MIN_INSYNC_REPLICAS", "KAFKA_DEFAULT_REPLICATION_FACTOR", "KAFKA_AUTO_CREATE_TOPICS_ENABLE"):
        assert values[key] == compose[key], key
    voters = values["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [f"{n}@kafka-{n}.kafka-headless.kafka.svc:9093" for n in range(3)]
    assert values["RAPPORT_NODE_ID_FROM_HOSTNAME"] == "true" and "KAFKA_NODE_ID" not in env
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for key in ("KAFKA_SSL_KEYSTORE_LOCATION", "KAFKA_SSL_TRUSTSTORE_LOCATION"):
        directory = values[key].rsplit("/", 1)[0]
        assert volumes[mounts[directory]["name"]]["secret"]["secretName"] == "kafka-tls", key
    assert volumes[mounts["/opt/rapport"]["name"]]["configMap"]["name"] == "kafka-start"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"/tmp", values["RAPPORT_KAFKA_CONFIG_DIR"], values["LOG_DIR"]} <= set(mounts)
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert services["kafka-headless"]["spec"]["clusterIP"] == "None"
    assert services["kafka-headless"]["spec"]["publishNotReadyAddresses"] is True
    assert sts["spec"]["serviceName"] == "kafka-headless"
    # the base's bootstrap address is this cluster's bootstrap Service
    configmap = next(d for d in deploy.k8s_documents() if d["metadata"]["name"] == "rapport-config")
    kustomization = yaml.safe_load((deploy.K8S_KAFKA / "kustomization.yaml").read_text(encoding="utf-8"))
    host = f"kafka-bootstrap.{kustomization['namespace']}.svc"
    assert configmap["data"]["KAFKA_BOOTSTRAP_SERVERS"] == f"{host}:9092"
    generated = {g["name"]: g["files"] for g in kustomization["configMapGenerator"]}
    assert generated == {"kafka-start": ["kafka-start.sh"]}
    # the certificate recipe in deploy/README.md names every host the clients and nodes use
    readme = (deploy.DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in ("'*.kafka-headless.kafka.svc'", host):
        assert name in readme, f"deploy/README.md's certificate recipe for Kubernetes lacks {name}"


@pytest.mark.parametrize("kustomization", ["base", "kafka"])
def test_kustomize_builds(deploy: Any, kustomization: str) -> None:
    """``kubectl kustomize`` renders the manifests offline (no cluster needed)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomizations are only parsed, not built")
    result = subprocess.run(
        [kubectl, "kustomize", str(deploy.DEPLOY / "k8s" / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    if kustomization == "kafka":
        (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
        assert cm["data"]["kafka-start.sh"] == deploy.KAFKA_START.read_text(encoding="utf-8")
        (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        assert volumes["start"]["configMap"]["name"] == cm["metadata"]["name"]


# --- one real run: the compose broker's settings on the pinned Apache Kafka ------------------------------------


@pytest.fixture
def compose_broker(deploy: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Start kafka-start.sh with docker-compose.yml's broker environment, changing only what a host process must
    (ports on localhost, data and secret paths), on the jars of the pom's Kafka; yield the client settings."""
    from rapport_local.kafka_jars import resolve
    from rapport_local.process import free_port

    distribution = resolve()
    assert distribution.version == deploy.pinned_kafka_version()
    tls = tmp_path / "tls"
    subprocess.run(["bash", str(deploy.MAKE_TLS), "-d", str(tls), "localhost"], check=True, timeout=60)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    classpath = distribution.classpath
    for tool, main, jvm in (
        ("kafka-storage.sh", "kafka.tools.StorageTool", ""),
        ("kafka-server-start.sh", "kafka.Kafka", "-Xmx512m"),
    ):
        (bin_dir / tool).write_text(f'#!/bin/bash\nexec "{distribution.java}" {jvm} -cp "{classpath}" {main} "$@"\n')
        (bin_dir / tool).chmod(0o755)
    client, controller, internal, external = (free_port("127.0.0.1") for _ in range(4))
    env = deploy.compose_environment("kafka") | {
        "KAFKA_LISTENERS": (
            f"CLIENT://localhost:{client},CONTROLLER://localhost:{controller},"
            f"INTERNAL://localhost:{internal},EXTERNAL://localhost:{external}"
        ),
        "KAFKA_ADVERTISED_LISTENERS": (
            f"CLIENT://localhost:{client},INTERNAL://localhost:{internal},EXTERNAL://localhost:{external}"
        ),
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@localhost:{controller}",
        "KAFKA_LOG_DIRS": str(tmp_path / "data"),
        "KAFKA_SSL_KEYSTORE_LOCATION": str(tls / "kafka-node-keystore.pem"),
        "KAFKA_SSL_TRUSTSTORE_LOCATION": str(tls / "ca.pem"),
        "RAPPORT_KAFKA_BIN": str(bin_dir),
        "RAPPORT_KAFKA_CONFIG_DIR": str(tmp_path / "config"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
    }
    log_path = tmp_path / "broker.log"
    with open(log_path, "wb") as log:
        broker = subprocess.Popen(["bash", str(deploy.KAFKA_START)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if broker.poll() is not None:
                pytest.fail(f"the broker exited with {broker.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", client), 1).close()
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the broker did not listen within 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield {
            "bootstrap": f"localhost:{client}",
            "internal": f"localhost:{internal}",
            "ca": str(tls / "ca.pem"),
            "keystore": str(tls / "kafka-node-keystore.pem"),
            "client_config": str(tmp_path / "config" / "rapport-node-client.properties"),
        }
    finally:
        broker.terminate()  # the script exec'd the broker: this is the JVM, shut down in a controlled way
        try:
            broker.wait(30)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait(10)


@pytest.mark.slow
def test_compose_broker_settings_authenticate_and_enforce_the_grant_table(
    deploy: Any, compose_broker: dict[str, str]
) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    from rapport_common.kafka.connection import KafkaConnection

    topic_init = deploy.load_topic_init()
    example = deploy.env_example()
    init_env = deploy.compose_environment("topic-init") | {
        "KAFKA_BOOTSTRAP_SERVERS": compose_broker["bootstrap"],
        "KAFKA_SSL_CAFILE": compose_broker["ca"],
        "TOPIC_INIT_TIMEOUT_S": "60",
    }
    assert topic_init.run(init_env) == 0
    admin = topic_init.connection_from_env(init_env)
    # an ACL the table does not hold is removed by the next run; the run after that changes nothing
    from confluent_kafka.admin import AdminClient

    extra = AclBinding(
        ResourceType.TOPIC, "alliance.alerts", ResourcePatternType.LITERAL, "User:intake", "*",
        AclOperation.WRITE, AclPermissionType.ALLOW,
    )  # fmt: skip
    client = AdminClient(admin.librdkafka_options())  # kept referenced until the futures resolve
    for future in client.create_acls([extra]).values():
        future.result(timeout=30)
    passwords = topic_init.service_passwords(init_env)
    assert topic_init.ensure_security(admin, passwords).acls_deleted == 1
    again = topic_init.ensure_security(admin, passwords)
    assert (again.acls_created, again.acls_deleted) == (0, 0)

    def login(user: str, password: str | None = None) -> dict[str, Any]:
        connection = KafkaConnection(
            bootstrap_servers=compose_broker["bootstrap"],
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=user,
            sasl_password=password or example[_password_variable(user)],
            ssl_cafile=compose_broker["ca"],
        )
        return connection.aiokafka_options()

    async def produce(user: str, topic: str, password: str | None = None) -> str:
        producer = AIOKafkaProducer(**login(user, password), enable_idempotence=True, request_timeout_ms=10_000)
        try:
            await producer.start()
            await producer.send_and_wait(topic, b"{}", key=b"client-1")
            return "ok"
        except (TopicAuthorizationFailedError, KafkaConnectionError) as exc:
            return type(exc).__name__
        finally:
            await producer.stop()

    async def consume(user: str, topic: str, group: str) -> str:
        consumer = AIOKafkaConsumer(
            topic, **login(user), group_id=group, auto_offset_reset="earliest", request_timeout_ms=10_000
        )
        try:
            await consumer.start()
            await consumer.getmany(timeout_ms=3000)
            await consumer.commit()
            return "ok"
        except (TopicAuthorizationFailedError, GroupAuthorizationFailedError) as exc:
            return type(exc).__name__
        finally:
            await consumer.stop()

    async def checks() -> dict[str, str]:
        return {
            "intake writes intake.events": await produce("intake", "intake.events"),
            "intake writes alliance.alerts": await produce("intake", "alliance.alerts"),
            "intake writes consent.events": await produce("intake", "consent.events"),
            "monitor writes intake.events.dlq": await produce("alliance-monitor", "intake.events.dlq"),
            "monitor writes intake.events": await produce("alliance-monitor", "intake.events"),
            "wrong password": await produce("intake", "intake.events", password="not-the-password-0123"),
            "admin password for intake": await produce("intake", "intake.events", example["KAFKA_ADMIN_PASSWORD"]),
            "session reads intake.events": await consume("session", "intake.events", "session-intake"),
            "session joins group consent": await consume("session", "intake.events", "consent"),
            "consent reads session.events": await consume("consent", "session.events", "consent"),
            "intake reads its own topic": await consume("intake", "intake.events", "intake-reconcile"),
        }

    assert asyncio.run(checks()) == {
        "intake writes intake.events": "ok",
        "intake writes alliance.alerts": "TopicAuthorizationFailedError",  # the extra ACL is gone
        "intake writes consent.events": "TopicAuthorizationFailedError",
        "monitor writes intake.events.dlq": "ok",
        "monitor writes intake.events": "TopicAuthorizationFailedError",
        "wrong password": "KafkaConnectionError",
        "admin password for intake": "KafkaConnectionError",
        "session reads intake.events": "ok",
        "session joins group consent": "GroupAuthorizationFailedError",
        "consent reads session.events": "TopicAuthorizationFailedError",
        "intake reads its own topic": "ok",
    }

    # the healthcheck's client settings (mutual TLS with the node certificate) reach the INTERNAL listener as the
    # node principal, a super user
    async def as_node() -> list[str]:
        import ssl

        from aiokafka.admin import AIOKafkaAdminClient

        context = ssl.create_default_context(cafile=compose_broker["ca"])
        context.load_cert_chain(compose_broker["keystore"])
        node = AIOKafkaAdminClient(
            bootstrap_servers=compose_broker["internal"], security_protocol="SSL", ssl_context=context
        )
        await node.start()
        try:
            return sorted(await node.list_topics())
        finally:
            await node.close()

    assert set(topic_init.planned_topics()) <= set(asyncio.run(as_node()))
    assert "security.protocol=SSL" in Path(compose_broker["client_config"]).read_text()
