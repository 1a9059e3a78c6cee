"""Dockerfiles: they parse, are multi-stage with a non-root final stage and a HEALTHCHECK, and copy files that exist."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest


def _built_images(deploy: Any) -> list[tuple[str, Path, Path]]:
    """(compose service, Dockerfile, build context) of every compose service built here, both variants."""
    found = {}
    for three in (False, True):
        for name, svc in deploy.compose_config(three)["services"].items():
            build = svc.get("build")
            if build:
                context = Path(build["context"])
                context = context if context.is_absolute() else deploy.REPO / context
                found[name] = (name, context / build.get("dockerfile", "Dockerfile"), context)
    return sorted(found.values())


def test_every_service_has_its_dockerfile(deploy: Any, rapport_service: str) -> None:
    assert (deploy.DEPLOY / "docker" / f"{rapport_service}.Dockerfile").is_file()


def test_dockerfiles_are_multi_stage_slim_non_root_and_healthchecked(deploy: Any) -> None:
    problems = []
    for _name, dockerfile, _context in _built_images(deploy):
        instructions, stages = deploy.parse_dockerfile(dockerfile)
        where = dockerfile.relative_to(deploy.REPO)
        keywords = {i.keyword for i in instructions}
        unknown = keywords - {
            "FROM", "ARG", "ENV", "RUN", "COPY", "WORKDIR", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD",
            "LABEL", "STOPSIGNAL", "SHELL", "VOLUME", "ONBUILD", "ADD",
        }  # fmt: skip
        if unknown:
            problems.append(f"{where}: unknown instructions {sorted(unknown)}")
        if len(stages) < 2:
            problems.append(f"{where}: {len(stages)} stage(s); expected a build stage and a runtime stage")
            continue
        final = stages[-1]
        for keyword in ("COPY", "USER", "HEALTHCHECK"):
            if not final.all(keyword):
                problems.append(f"{where}: final stage has no {keyword}")
        if not any(s.all("RUN") for s in stages):
            problems.append(f"{where}: no RUN instruction")
        users = final.all("USER")
        if users and users[-1].args.split(":")[0] in ("root", "0"):
            problems.append(f"{where}: final stage runs as root")
        if final.all("HEALTHCHECK") and final.all("HEALTHCHECK")[-1].args.upper().endswith("NONE"):
            problems.append(f"{where}: HEALTHCHECK NONE")
        if "ADD" in keywords:
            problems.append(f"{where}: use COPY, not ADD (no remote fetches, no implicit extraction)")
    assert not problems, "\n".join(problems)


def test_copy_sources_exist_and_are_not_dockerignored(deploy: Any) -> None:
    problems = []
    for _name, dockerfile, context in _built_images(deploy):
        instructions, _ = deploy.parse_dockerfile(dockerfile)
        ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if not ignore.is_file():
            ignore = context / ".dockerignore"
        for ins in instructions:
            if ins.keyword not in ("COPY", "ADD"):
                continue
            for source in deploy.copy_sources(ins):
                rel = source.rstrip("/").removeprefix("./") or "."
                matches = list(context.glob(rel)) if any(c in rel for c in "*?[") else [context / rel]
                if not any(m.exists() for m in matches):
                    problems.append(f"{dockerfile.name}:{ins.line}: COPY source {source} does not exist in {context}")
                elif rel != "." and deploy.dockerignore_excludes(ignore, rel):
                    problems.append(f"{dockerfile.name}:{ins.line}: COPY source {source} is excluded by {ignore.name}")
    assert not problems, "\n".join(problems)


def test_service_images_sync_the_locked_workspace_package(deploy: Any, rapport_service: str) -> None:
    dockerfile = deploy.DEPLOY / "docker" / f"{rapport_service}.Dockerfile"
    instructions, stages = deploy.parse_dockerfile(dockerfile)
    project = tomllib.loads((deploy.REPO / "services" / rapport_service / "pyproject.toml").read_text())["project"]
    runs = [i.args for i in stages[0].all("RUN")]
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs, "the build stage must install with uv sync"
    for run in syncs:
        assert "--frozen" in run and f"--package {project['name']}" in run, run
    assert any("--no-editable" in r for r in syncs), "the final venv must not point back into the build stage's /src"
    # uv needs every workspace member's pyproject.toml to read the workspace
    copied = {src for i in instructions if i.keyword == "COPY" for src in deploy.copy_sources(i)}
    for member in deploy.workspace_members():
        rel = str((member / "pyproject.toml").relative_to(deploy.REPO))
        assert rel in copied, f"{dockerfile.name} does not copy workspace member {rel}"
    final = stages[-1]
    entry = final.all("ENTRYPOINT")[-1].args
    assert entry == f'["python", "-m", "{deploy.module_of(rapport_service)}"]', entry
    assert final.all("CMD")[-1].args == '["serve"]'
    assert re.search(rf"\b{deploy.CONTAINER_PORT}\b", final.all("EXPOSE")[-1].args)
    health = final.all("HEALTHCHECK")[-1].args
    assert "/healthz" in health


def test_dockerfile_env_names_are_settings(deploy: Any, rapport_service: str) -> None:
    """ENV in a service image that looks like a setting (not PATH/PYTHON*/UV_*) must be one the code reads."""
    _, stages = deploy.parse_dockerfile(deploy.DEPLOY / "docker" / f"{rapport_service}.Dockerfile")
    names = set()
    for ins in stages[-1].all("ENV"):
        names |= set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", ins.args))
    candidates = {n for n in names if n != "PATH" and not n.startswith(("PYTHON", "UV_"))}
    assert candidates, "expected HTTP_HOST/HTTP_PORT in the runtime stage"
    unknown = candidates - deploy.settings_of(rapport_service).names
    assert not unknown, f"ENV {sorted(unknown)} are not settings of {rapport_service}"


def test_exec_forms_are_json_and_inline_python_compiles(deploy: Any) -> None:
    """Exec forms must be JSON (else Docker silently runs a shell form); inline ``python -c`` must compile."""
    problems = []
    for _name, dockerfile, _context in _built_images(deploy):
        instructions, _ = deploy.parse_dockerfile(dockerfile)
        for ins in instructions:
            args = ins.args
            if ins.keyword == "HEALTHCHECK":
                args = args.split("CMD", 1)[1].strip() if "CMD" in args else ""
            if ins.keyword not in ("ENTRYPOINT", "CMD", "HEALTHCHECK") or not args.startswith("["):
                continue
            try:
                argv = json.loads(args)
            except json.JSONDecodeError as exc:
                problems.append(f"{dockerfile.name}:{ins.line}: {ins.keyword} is not a JSON array: {exc}")
                continue
            problems += _inline_python_problems(argv, f"{dockerfile.name}:{ins.line}")
    for three in (False, True):
        for name, svc in deploy.compose_config(three)["services"].items():
            test = (svc.get("healthcheck") or {}).get("test")
            if isinstance(test, list) and test and test[0] == "CMD":
                problems += _inline_python_problems(test[1:], f"compose {name} healthcheck")
    assert not problems, "\n".join(problems)


def _inline_python_problems(argv: list[str], where: str) -> list[str]:
    if len(argv) >= 3 and argv[0] in ("python", "python3") and argv[1] == "-c":
        try:
            compile(argv[2], where, "exec")
        except SyntaxError as exc:
            return [f"{where}: python -c does not compile: {exc}"]
    return []


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("libs/common/src", False),
        ("services/consent/pyproject.toml", False),
        (".venv", True),
        ("tests", True),
        ("services/consent/src/rapport_consent/__pycache__", True),
    ],
)
def test_dockerignore_reader(deploy: Any, path: str, excluded: bool) -> None:
    """The .dockerignore reader used above agrees with the intended rules on known paths."""
    ignore = deploy.DEPLOY / "docker" / "consent.Dockerfile.dockerignore"
    assert deploy.dockerignore_excludes(ignore, path) is excluded
