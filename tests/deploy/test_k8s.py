"""Kubernetes base: parses, names images that deploy/docker builds, ports that the services listen on, probes on
/healthz and /readyz, resource requests, and only settings the code reads."""

from __future__ import annotations

from typing import Any

import yaml


def _by_kind(deploy: Any, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in deploy.k8s_documents() if d.get("kind") == kind}


def _pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_every_manifest_parses(deploy: Any) -> None:
    files = sorted(deploy.DEPLOY.joinpath("k8s").rglob("*.yaml"))
    assert files
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        assert docs, path
        for doc in docs:
            assert {"apiVersion", "kind"} <= set(doc), f"{path}: document without apiVersion/kind"
            assert doc.get("metadata", {}).get("name") or doc["kind"] == "Kustomization", path
    listed = {d["kind"] for d in deploy.k8s_documents()}
    assert {"Deployment", "Service", "ConfigMap", "Job", "HorizontalPodAutoscaler"} <= listed


def test_every_service_has_deployment_and_service(deploy: Any, rapport_service: str) -> None:
    deployments = _by_kind(deploy, "Deployment")
    services = _by_kind(deploy, "Service")
    assert rapport_service in deployments, f"no Deployment {rapport_service}"
    assert rapport_service in services, f"no Service {rapport_service}"
    dep = deployments[rapport_service]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    selector = services[rapport_service]["spec"]["selector"]
    assert selector.items() <= pod_labels.items(), "the Service selects no pod of the Deployment"
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_images_are_built_by_deploy_docker(deploy: Any) -> None:
    """Every image is rapport/<name> with a deploy/docker/<name>.Dockerfile, and compose builds the same name."""
    compose_images = {
        deploy.image_repository(s["image"]) for s in deploy.compose_config()["services"].values() if s.get("build")
    }
    images = set()
    for doc in deploy.k8s_documents():
        if doc["kind"] in ("Deployment", "Job"):
            images |= {c["image"] for c in _pod_containers(doc)}
    assert images
    for image in images:
        repo = deploy.image_repository(image)
        assert repo.startswith("rapport/"), image
        name = repo.removeprefix("rapport/")
        assert (deploy.DEPLOY / "docker" / f"{name}.Dockerfile").is_file(), (
            f"{image}: no deploy/docker/{name}.Dockerfile"
        )
        assert repo in compose_images, f"{image}: compose builds no image {repo}"
    kustomization = yaml.safe_load((deploy.K8S_BASE / "kustomization.yaml").read_text(encoding="utf-8"))
    overridable = {i["name"] for i in kustomization.get("images", [])}
    assert {deploy.image_repository(i) for i in images} <= overridable, "every image needs an images: entry"


def test_ports_and_probes(deploy: Any, rapport_service: str) -> None:
    config = _by_kind(deploy, "ConfigMap")["rapport-config"]["data"]
    port = int(config["HTTP_PORT"])
    assert port == deploy.CONTAINER_PORT
    dep = _by_kind(deploy, "Deployment")[rapport_service]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}

    def probe_port(probe: dict[str, Any]) -> int:
        value = probe["httpGet"]["port"]
        return ports[value] if isinstance(value, str) else int(value)

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        if kind in container:
            assert probe_port(container[kind]) == port, kind
    svc = _by_kind(deploy, "Service")[rapport_service]
    for p in svc["spec"]["ports"]:
        target = p["targetPort"]
        assert (ports[target] if isinstance(target, str) else int(target)) == port
    assert container["resources"]["requests"].keys() >= {"cpu", "memory"}
    assert container.get("args") == ["serve"]
    init = dep["spec"]["template"]["spec"].get("initContainers", [])
    if deploy.settings_of(rapport_service).has_database:
        assert [c.get("args") for c in init] == [["migrate"]], "a migrate initContainer is expected"
    else:
        assert init == [], f"{rapport_service} has no database, so nothing to migrate before it serves"
    security = dep["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0


def test_env_names_are_settings_the_code_reads(deploy: Any, rapport_service: str) -> None:
    configmaps = _by_kind(deploy, "ConfigMap")
    secrets_needed = set()
    dep = _by_kind(deploy, "Deployment")[rapport_service]
    settings = deploy.settings_of(rapport_service)
    for container in _pod_containers(dep):
        names = set()
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            assert ref in configmaps, f"{container['name']}: envFrom names ConfigMap {ref!r}, which the base lacks"
            names |= set(configmaps[ref]["data"])
        for var in container.get("env", []):
            names.add(var["name"])
            secret = var.get("valueFrom", {}).get("secretKeyRef")
            if secret:
                secrets_needed.add((secret["name"], secret["key"]))
        unknown = sorted(names - settings.names)
        assert not unknown, f"{rapport_service}/{container['name']}: {unknown} are not fields of {settings.cls_name}"
        unset = sorted(settings.required - names)
        assert not unset, f"{rapport_service}/{container['name']}: required {unset} not set"
    assert ("rapport-jwt", "JWT_SECRET") in secrets_needed
    if settings.has_database:
        assert (f"rapport-{rapport_service}", "DATABASE_URL") in secrets_needed
        readme = (deploy.DEPLOY / "README.md").read_text(encoding="utf-8")
        assert f"rapport-{rapport_service}" in readme, "deploy/README.md must tell how to create this Secret"
    else:
        assert not any(key == "DATABASE_URL" for _, key in secrets_needed), f"{rapport_service} reads no DATABASE_URL"


def test_console_demo_login_is_off(deploy: Any) -> None:
    """The demo sign-in issues tokens to anyone; in Kubernetes operators issue real tokens."""
    configmaps = _by_kind(deploy, "ConfigMap")
    dep = _by_kind(deploy, "Deployment")["console"]
    values: dict[str, str] = {}
    for container in _pod_containers(dep):
        for source in container.get("envFrom", []):
            values |= configmaps[source["configMapRef"]["name"]]["data"]
        values |= {v["name"]: v.get("value", "") for v in container.get("env", []) if "value" in v}
    assert values.get("CONSOLE_DEMO_LOGIN", "false").lower() in ("false", "0", "")
    assert {values.get(k) for k in ("INTAKE_SERVICE_URL", "SESSION_SERVICE_URL", "CONSENT_SERVICE_URL")} == {
        "http://intake:8000",
        "http://session:8000",
        "http://consent:8000",
    }
    assert values.get("ALLIANCE_MONITOR_URL") == "http://alliance-monitor:8000"
    services = _by_kind(deploy, "Service")
    for url in (
        values[k] for k in ("INTAKE_SERVICE_URL", "SESSION_SERVICE_URL", "CONSENT_SERVICE_URL", "ALLIANCE_MONITOR_URL")
    ):
        assert url.removeprefix("http://").split(":")[0] in services, f"{url} names no Service of the base"


def test_configmap_holds_only_common_settings(deploy: Any) -> None:
    """The shared ConfigMap goes to every service, so each key must be a setting of every service."""
    from rapport_common.settings import ServiceSettings

    common = {name.upper() for name in ServiceSettings.model_fields}
    data = _by_kind(deploy, "ConfigMap")["rapport-config"]["data"]
    assert set(data) <= common, sorted(set(data) - common)
    assert data["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert data["HTTP_HOST"] == "0.0.0.0"


def test_alliance_monitor_scales_with_partitions(deploy: Any) -> None:
    hpa = _by_kind(deploy, "HorizontalPodAutoscaler")["alliance-monitor"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "alliance-monitor"}
    job = _by_kind(deploy, "Job")["topic-init"]
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    partitions = int(env["TOPIC_PARTITIONS"])
    assert env["TOPIC_REPLICATION_FACTOR"] == "3"
    assert hpa["spec"]["maxReplicas"] <= partitions, "replicas beyond the partition count sit idle"
    assert hpa["spec"]["minReplicas"] >= 2, "two monitors must survive one dying"
    keda_docs = yaml.safe_load_all((deploy.DEPLOY / "k8s" / "keda-alliance-monitor.example.yaml").read_text("utf-8"))
    (keda,) = [d for d in keda_docs if d and d["kind"] == "ScaledObject"]
    assert keda["spec"]["maxReplicaCount"] == hpa["spec"]["maxReplicas"]
    assert keda["spec"]["scaleTargetRef"]["name"] == "alliance-monitor"
