"""Shared readers for the deployment checks: what the code really reads and exports, and what deploy/ says.

Everything is read at test time from the source tree (settings classes, metric definitions, workspace
members), never from a copy, so a setting or metric renamed in the code makes these checks fail.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import inspect
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
THREE_BROKERS = DEPLOY / "compose" / "kafka-3-brokers.yml"
ENV_EXAMPLE = DEPLOY / "compose.env.example"
K8S_BASE = DEPLOY / "k8s" / "base"
K8S_KAFKA = DEPLOY / "k8s" / "kafka"
KAFKA_POM = DEPLOY / "local" / "kafka" / "pom.xml"
KAFKA_START = DEPLOY / "compose" / "kafka" / "kafka-start.sh"
MAKE_TLS = DEPLOY / "compose" / "kafka" / "make-tls.sh"
TOPIC_INIT = DEPLOY / "docker" / "topic_init.py"
CONTAINER_PORT = 8000


# --- the services and the settings they read ---------------------------------------------------------


def rapport_services() -> list[str]:
    """Service names (directories under services/ that have a settings module), e.g. ``alliance-monitor``."""
    return sorted(
        p.name for p in (REPO / "services").iterdir() if (p / "src" / module_of(p.name) / "settings.py").is_file()
    )


def module_of(service: str) -> str:
    return "rapport_" + service.replace("-", "_")


def services_with_database() -> list[str]:
    """Services whose settings read ``DATABASE_URL``: each gets its own database, role and migrate step."""
    return [s for s in rapport_services() if settings_of(s).has_database]


def services_without_database() -> list[str]:
    """Services whose settings have no ``DATABASE_URL`` field (e.g. the console): no database is made for them."""
    return [s for s in rapport_services() if not settings_of(s).has_database]


def migrations_of(service: str) -> list[Path]:
    """SQL migrations shipped in the service's package (a service with any needs a database)."""
    return sorted((REPO / "services" / service / "src" / module_of(service) / "migrations").glob("*.sql"))


@dataclass(frozen=True)
class SettingsInfo:
    cls_name: str
    names: frozenset[str]  # environment variable names (field names upper-cased)
    required: frozenset[str]  # those without a default

    @property
    def has_database(self) -> bool:
        """A service has its own database exactly when its settings read ``DATABASE_URL``."""
        return "DATABASE_URL" in self.names

    @property
    def uses_kafka(self) -> bool:
        return "KAFKA_BOOTSTRAP_SERVERS" in self.names


@cache
def settings_of(service: str) -> SettingsInfo:
    """The settings class of ``service``: the one pydantic-settings class its settings module defines.

    Services with a database and a broker extend ``ServiceSettings``; a service without either (the
    console) extends ``BaseSettings`` directly, and then reads neither ``DATABASE_URL`` nor Kafka settings.
    """
    from pydantic_settings import BaseSettings

    module = importlib.import_module(f"{module_of(service)}.settings")
    classes = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseSettings) and obj.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__} must define exactly one settings class, found {classes}"
    cls = classes[0]
    fields = cls.model_fields

    def env_name(name: str, info: Any) -> str:
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        return (alias or name).upper()  # case_sensitive=False: the variable is the upper-cased name or alias

    return SettingsInfo(
        cls_name=cls.__name__,
        names=frozenset(env_name(name, info) for name, info in fields.items()),
        required=frozenset(env_name(name, info) for name, info in fields.items() if info.is_required()),
    )


# --- metrics the code exports ----------------------------------------------------------------------------

_METRIC_KINDS = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


@dataclass(frozen=True)
class MetricDef:
    name: str
    kind: str
    labels: tuple[str, ...]
    where: str

    def series(self) -> set[str]:
        """Names of the series prometheus_client exposes for this metric."""
        if self.kind == "Counter":
            base = self.name.removesuffix("_total")
            return {f"{base}_total", f"{base}_created"}
        if self.kind == "Histogram":
            return {f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum", f"{self.name}_created"}
        if self.kind == "Summary":
            return {self.name, f"{self.name}_count", f"{self.name}_sum", f"{self.name}_created"}
        if self.kind == "Info":
            return {f"{self.name}_info"}
        return {self.name}


def _string_list(node: ast.AST | None) -> tuple[str, ...]:
    if isinstance(node, ast.List | ast.Tuple):
        return tuple(e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return ()


@cache
def exported_metrics() -> dict[str, MetricDef]:
    """Every ``rapport_*`` metric defined with prometheus_client in libs/ and services/ source, by series name."""
    series: dict[str, MetricDef] = {}
    sources = [*(REPO / "libs").glob("*/src/**/*.py"), *(REPO / "services").glob("*/src/**/*.py")]
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            kind = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if kind not in _METRIC_KINDS:
                continue
            kwargs = {k.arg: k.value for k in node.keywords}
            name_node = node.args[0] if node.args else kwargs.get("name")
            if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
                continue
            if not name_node.value.startswith("rapport_"):
                continue
            labels_node = node.args[2] if len(node.args) > 2 else kwargs.get("labelnames")
            metric = MetricDef(name_node.value, kind, _string_list(labels_node), f"{path.relative_to(REPO)}")
            for s in metric.series():
                series[s] = metric
    return series


# --- docker-compose ---------------------------------------------------------------------------------------


def docker_compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed, so the compose file cannot be validated. "
            "Install Debian's package: apt-get install -y docker-compose"
        )
    return binary


def run_compose_config(*files: Path, env_file: Path) -> subprocess.CompletedProcess[str]:
    """``docker-compose --env-file F -f ... config`` in a clean environment (no variable leaks in)."""
    args = [docker_compose_binary(), "--env-file", str(env_file)]
    for f in files:
        args += ["-f", str(f)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [*args, "config"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@cache
def compose_config(three_brokers: bool = False) -> dict[str, Any]:
    """The compose model as docker-compose resolves it (anchors, overrides and variables applied)."""
    files = (COMPOSE_FILE, THREE_BROKERS) if three_brokers else (COMPOSE_FILE,)
    result = run_compose_config(*files, env_file=ENV_EXAMPLE)
    if result.returncode != 0:
        pytest.fail(f"docker-compose config rejected {[str(f.relative_to(REPO)) for f in files]}:\n{result.stderr}")
    return yaml.safe_load(result.stdout)


def compose_environment(service: str, three_brokers: bool = False) -> dict[str, str]:
    """A compose service's environment as the container sees it (``config`` prints ``$`` as ``$$``)."""
    env = compose_config(three_brokers)["services"][service].get("environment") or {}
    return {key: "" if value is None else str(value).replace("$$", "$") for key, value in env.items()}


def env_example() -> dict[str, str]:
    """The variables of deploy/compose.env.example."""
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def raw_compose_files() -> list[Path]:
    """docker-compose.yml and every override in deploy/compose/."""
    return [COMPOSE_FILE, *sorted((DEPLOY / "compose").glob("*.yml"))]


def compose_rapport_services(config: dict[str, Any]) -> dict[str, str]:
    """compose service name -> Rapport service, for compose services built from deploy/docker/<svc>.Dockerfile."""
    found = {}
    services = set(rapport_services())
    for name, svc in config["services"].items():
        dockerfile = (svc.get("build") or {}).get("dockerfile", "")
        stem = Path(dockerfile).name.removesuffix(".Dockerfile")
        if stem in services:
            found[name] = stem
    return found


# --- Dockerfiles ------------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(path: Path) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (continuations joined, comments dropped) and the stages they form."""
    instructions: list[Instruction] = []
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, args = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, f"{path}: the last instruction ends with a line continuation"
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", ins.args, re.IGNORECASE)
            assert m, f"{path}:{ins.line}: cannot read FROM {ins.args!r}"
            stages.append(Stage(m.group(1), m.group(2)))
        elif stages:
            stages[-1].instructions.append(ins)
        else:
            assert ins.keyword == "ARG", f"{path}:{ins.line}: {ins.keyword} before the first FROM"
    return instructions, stages


def copy_sources(ins: Instruction) -> list[str]:
    """Source paths of a COPY/ADD from the build context (none for COPY --from=...)."""
    args = ins.args
    if args.startswith("["):
        import json

        parts = json.loads(args)
    else:
        parts = args.split()
    flags = [p for p in parts if p.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return []
    paths = [p for p in parts if not p.startswith("--")]
    return paths[:-1]


def dockerignore_excludes(ignore_file: Path, relpath: str) -> bool:
    """Whether ``relpath`` (a file or directory of the context) is excluded by a .dockerignore (last match wins)."""
    if not ignore_file.is_file():
        return False
    excluded = False
    for raw in ignore_file.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = pattern.strip("/")
        if pattern == "**" or _ignore_match(pattern, relpath):
            excluded = not negate
    return excluded


def _ignore_match(pattern: str, relpath: str) -> bool:
    if pattern.startswith("**/"):
        tail = pattern[3:]
        parts = relpath.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[i:]), tail) for i in range(len(parts)))
    parts = relpath.split("/")
    # a pattern naming a directory covers everything below it
    return any(fnmatch.fnmatchcase("/".join(parts[: i + 1]), pattern) for i in range(len(parts)))


def workspace_members() -> list[Path]:
    """Directories of the uv workspace members (root pyproject's member globs)."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    members: list[Path] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += [p for p in sorted(REPO.glob(pattern)) if (p / "pyproject.toml").is_file()]
    return members


# --- Kubernetes -------------------------------------------------------------------------------------------


@cache
def k8s_documents() -> list[dict[str, Any]]:
    """Every document of every resource the kustomize base lists."""
    kustomization = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = K8S_BASE / resource
        assert path.is_file(), f"kustomization lists {resource}, which does not exist"
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def k8s_files() -> list[Path]:
    """Every manifest under deploy/k8s (the base, the Kafka cluster, the examples)."""
    return sorted((DEPLOY / "k8s").rglob("*.yaml"))


def k8s_file_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@cache
def k8s_kafka_documents() -> list[dict[str, Any]]:
    """Every document of the resources deploy/k8s/kafka's kustomization lists."""
    kustomization = yaml.safe_load((K8S_KAFKA / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = K8S_KAFKA / resource
        assert path.is_file(), f"kustomization lists {resource}, which does not exist"
        docs += k8s_file_documents(path)
    return docs


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """initContainers and containers of a Deployment, StatefulSet or Job."""
    spec = doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


# --- Kafka -------------------------------------------------------------------------------------------------


@cache
def pinned_kafka_version() -> str:
    """``<kafka.version>`` of deploy/local/kafka/pom.xml: the one Apache Kafka version of tests, compose, k8s."""
    import xml.etree.ElementTree as ET

    root = ET.parse(KAFKA_POM).getroot()
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = root.findtext("m:properties/m:kafka.version", namespaces=namespace)
    assert version and version.strip(), f"{KAFKA_POM} has no <kafka.version>"
    return version.strip()


def load_topic_init() -> Any:
    """deploy/docker/topic_init.py as a module (it is a script of its own image, not a package)."""
    import importlib.util
    import sys

    name = "rapport_deploy_topic_init"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TOPIC_INIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def image_repository(image: str) -> str:
    """``rapport/intake:dev`` -> ``rapport/intake``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


# --- fixtures and parametrisation --------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``rapport_service`` runs a test once per service found under services/ at collection time."""
    if "rapport_service" in metafunc.fixturenames:
        metafunc.parametrize("rapport_service", rapport_services())
    if "database_service" in metafunc.fixturenames:
        metafunc.parametrize("database_service", services_with_database())
    if "databaseless_service" in metafunc.fixturenames:
        metafunc.parametrize("databaseless_service", services_without_database())


@pytest.fixture(scope="session")
def deploy() -> Any:
    """This module: the readers above, for the test modules (conftest modules are not importable by name)."""
    import sys

    return sys.modules[__name__]
