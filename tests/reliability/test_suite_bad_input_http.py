"""Bad HTTP input: schemathesis against every service's own OpenAPI document, on the running suite.

For every operation of every service: examples that fit the schema (positive) and examples that break it
(negative), once with fully generated path parameters and once with the path pinned to real resources of
a real client (so bodies reach the handlers' own checks rather than stopping at "no such session"). The
caller has a valid token of a role the operation permits (the resource's own client, clinician, or
compliance/operator/service as the route allows).

Every answer must be below 500, and every 4xx a JSON object with a ``detail`` (the services' error shape).
Failures are collected (no shrinking: the generated case is printed as a curl command) and reported
together. ``RAPPORT_FUZZ_EXAMPLES`` sets the examples per operation and mode (default 4: under a minute).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from soak.world import live_session, make_team, onboard, wait_known

EXAMPLES = int(os.environ.get("RAPPORT_FUZZ_EXAMPLES", "4"))
SERVICES = ("intake", "session", "consent", "alliance-monitor")

#: who calls each operation (a role it permits; "client"/"clinician" are the pinned resource's own)
CALLER_OF: dict[str, str] = {
    "intake POST /clinicians": "service",
    "intake GET /clinicians/{clinician_id}/caseload": "clinician",
    "intake POST /clients": "clinician",
    "intake POST /clients/{client_id}/assignments": "service",
    "intake POST /clients/{client_id}/intake": "client",
    "intake GET /clients/{client_id}/intake": "clinician",
    "session POST /sessions": "clinician",
    "session GET /sessions": "clinician",
    "session GET /sessions/{session_id}": "clinician",
    "session POST /sessions/{session_id}/reschedule": "clinician",
    "session POST /sessions/{session_id}/cancel": "clinician",
    "session POST /sessions/{session_id}/start": "clinician",
    "session POST /sessions/{session_id}/join": "client",
    "session POST /sessions/{session_id}/leave": "client",
    "session POST /sessions/{session_id}/end": "service",
    "session POST /sessions/{session_id}/recording": "clinician",
    "session POST /telemetry": "service",
    "session POST /messages": "client",
    "session GET /messages": "client",
    "consent POST /consents": "client",
    "consent POST /consents/{consent_id}/revoke": "client",
    "consent GET /consents/check": "service",
    "consent GET /consents/stats": "operator",
    "consent GET /consents/{consent_id}": "client",
    "consent GET /clients/{client_id}/consents": "client",
    "alliance-monitor GET /alerts/counts": "operator",
    "alliance-monitor GET /clients/{client_id}/trend": "clinician",
}


def default_caller(service: str, path: str) -> str:
    if path.startswith("/compliance/"):
        return "compliance"
    if path.startswith("/alerts"):
        return "clinician"
    if path.startswith("/sessions/{session_id}/feedback"):
        return "client"
    return "service"


@pytest.fixture(scope="module")
async def pinned(suite: Any) -> dict[str, str]:
    """Real resources for the pinned pass: a client with its clinician, a live session, a consent, an alert."""
    api = suite.api
    team = await make_team(api, 1)
    pair = await onboard(api, team, team.clinicians[0])
    await wait_known(api, pair)
    session_id = await live_session(api, pair)
    consent_id = await api.grant(pair.client, "research")
    documents = (await api.call("consent", "GET", "/consents/documents", as_=("service", "x"))).json()
    await api.pulse(session_id, pair.client, 1)
    alert_id = ""
    for _ in range(100):
        alerts = await api.alerts_for("clinician", pair.clinician, client_id=pair.client)
        if alerts:
            alert_id = alerts[0]["alert_id"]
            break
        await asyncio.sleep(0.2)
    assert alert_id, "the pinned pulse-low alert never appeared"
    return {
        "client_id": pair.client,
        "clinician_id": pair.clinician,
        "supervisor_id": team.supervisor,
        "session_id": session_id,
        "consent_id": consent_id,
        "alert_id": alert_id,
        "scope": documents[0]["scope"],
        "version": documents[0]["version"],
    }


def _check(response: requests.Response) -> str | None:
    """None when the answer is acceptable, else what is wrong with it."""
    if response.status_code >= 500:
        return f"{response.status_code} server error: {response.text[:200]}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            return f"{response.status_code} with a non-JSON body: {response.text[:200]!r}"
        if not isinstance(body, dict) or "detail" not in body:
            return f"{response.status_code} without a detail: {response.text[:200]}"
        if not body["detail"]:
            return f"{response.status_code} with an empty detail"
    return None


def fuzz_service(service: str, base_url: str, openapi: dict[str, Any], pinned: dict[str, str], secret: str) -> dict:
    """Run every operation of one service (blocking: call from a thread). Returns failures and counts."""
    from rapport_common.auth import issue_token

    schema = schemathesis.openapi.from_dict(openapi)
    failures: list[str] = []
    counts: dict[str, int] = {}
    http = requests.Session()
    subjects = {
        "client": pinned["client_id"],
        "clinician": pinned["clinician_id"],
        "compliance": "auditor-fuzz",
        "operator": "ops-fuzz",
        "service": "fuzz-service",
    }
    for result in schema.get_all_operations():
        operation = result.ok()
        key = f"{service} {operation.method.upper()} {operation.path}"
        role = CALLER_OF.get(key) or default_caller(service, operation.path)
        headers = {"Authorization": "Bearer " + issue_token(secret, subject=subjects[role], role=role)}
        names = [p.name for p in operation.path_parameters]
        pins = [None, {name: pinned[name] for name in names if name in pinned}] if names else [None]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for pin in pins:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=pin or None)
                run = _runner(strategy, key, mode.value, headers, base_url, http, failures, counts)
                try:
                    run()
                except Unsatisfiable:  # nothing to negate (no parameters, no body): positive cases cover it
                    counts["no-negative-case"] = counts.get("no-negative-case", 0) + 1
    http.close()
    return {"failures": failures, "counts": counts}


def _runner(
    strategy: Any,
    key: str,
    mode: str,
    headers: dict[str, str],
    base_url: str,
    http: requests.Session,
    failures: list[str],
    counts: dict[str, int],
) -> Any:
    """A Hypothesis test over ``strategy`` that records problems instead of raising (no shrinking)."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
        try:
            response = http.request(**kwargs, timeout=20, stream=True)
        except requests.RequestException as exc:
            failures.append(f"{key}: transport error {type(exc).__name__}: {case.as_curl_command()}")
            return
        try:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                problem = None if response.status_code == 200 else "stream refused oddly"
            else:
                response.content  # noqa: B018 (read the body)
                problem = _check(response)
        finally:
            response.close()
        counts[str(response.status_code)] = counts.get(str(response.status_code), 0) + 1
        if problem is not None:
            failures.append(f"{key} ({mode}): {problem}\n    {case.as_curl_command()}")

    return run


@pytest.mark.parametrize("service", SERVICES)
async def test_schemathesis_finds_no_server_error_and_only_well_formed_refusals(
    suite: Any, pinned: dict[str, str], service: str
) -> None:
    openapi = suite.app(service).openapi()
    outcome = await asyncio.to_thread(fuzz_service, service, suite.urls[service], openapi, pinned, suite.secret)
    total = sum(outcome["counts"].values())
    print(f"{service}: {total} requests, statuses {json.dumps(outcome['counts'], sort_keys=True)}")
    assert total >= EXAMPLES * 2, outcome  # the fuzzer really ran
    assert outcome["failures"] == [], "\n".join(outcome["failures"][:20])


#: (service, method, path with a NUL in an id, query, json) -> any 5xx is a failure
NUL = "id-\u0000-x"
NUL_IN_PATH = "id-%00-x"
#: regression: a U+0000 in an id reached PostgreSQL (SQLSTATE 22021) and the services answered 500 (fixed in
#: rapport_common.http: NUL in path, query or body is refused with 422)
NUL_PROBES = [
    ("intake", "GET", f"/clients/{NUL_IN_PATH}/intake", None, None, "clinician"),
    ("intake", "POST", "/clients", None, {"client_id": NUL, "age_band": "adult", "timezone": "UTC"}, "service"),
    ("session", "GET", "/messages", {"client_id": NUL}, None, "client"),
    ("session", "GET", "/sessions", {"client_id": NUL}, None, "service"),
    ("session", "GET", f"/sessions/{NUL_IN_PATH}", None, None, "service"),
    ("session", "POST", "/messages", None, {"client_id": NUL, "body": "hi"}, "clinician"),
    ("consent", "GET", "/consents/check", {"client_id": NUL, "scope": "research"}, None, "service"),
    ("consent", "GET", f"/clients/{NUL_IN_PATH}/consents", None, None, "service"),
    ("consent", "GET", f"/consents/{NUL_IN_PATH}", None, None, "service"),
    ("consent", "POST", "/consents", None, {"client_id": NUL, "scope": "research"}, "service"),
    ("consent", "GET", "/compliance/ledger", {"client_id": NUL}, None, "compliance"),
    ("alliance-monitor", "GET", "/alerts", {"client_id": NUL}, None, "clinician"),
    ("alliance-monitor", "GET", f"/alerts/{NUL_IN_PATH}", None, None, "clinician"),
    ("alliance-monitor", "GET", f"/clients/{NUL_IN_PATH}/trend", None, None, "clinician"),
]


@pytest.mark.parametrize(("service", "method", "path", "query", "body", "role"), NUL_PROBES)
async def test_a_nul_character_in_an_id_is_refused_not_a_server_error(
    suite: Any, service: str, method: str, path: str, query: Any, body: Any, role: str
) -> None:
    """PostgreSQL text cannot hold U+0000: an id containing it must be refused (4xx), never reach SQL."""
    response = await suite.api.client(service).request(
        method, path, params=query, json=body, headers=suite.api.auth(role, "someone")
    )
    assert response.status_code < 500, f"{method} {path} {query or ''} {body or ''} -> {response.status_code}"
    assert _check_httpx(response) is None


def _check_httpx(response: Any) -> str | None:
    if 400 <= response.status_code < 500:
        body = response.json()
        if not isinstance(body, dict) or not body.get("detail"):
            return f"{response.status_code} without a detail"
    return None
