"""The authorisation matrix of the whole suite, generated from the services' route tables.

Every route of every service (``build_app(settings).routes``) x every caller x own/other's resource is one
case, checked through the real running suite (real PostgreSQL, real broker; session, consent and the monitor
learn the care assignment from ``intake.events`` as in production). ``POLICY`` below is the documented
policy, transcribed from the services' access rules:

- intake: ``rapport_intake.domain.access`` (module docstring table);
- session: ``rapport_session.api.deps`` docstring ("a client acts only as themself; a clinician only for
  clients assigned to them ...; the service role acts for any session where that makes sense") and the
  route docstrings (feedback: "Only the client fills these in, in their own session");
- consent: ``rapport_consent.api.deps`` role sets + object checks in ``api.consents`` (compliance reads,
  never writes; operators see counts only);
- alliance-monitor: ``rapport_alliance_monitor.api.access`` (audience routing) and ``api.trend``
  (clinician of record only).

A route that appears in a route table without an entry here fails (``test_every_route_has_a_policy`` and
the route's own case), so adding an endpoint forces its policy to be written down. Callers:
``client:own`` (the resource's client), ``client:other`` (a client of another clinician),
``clinician:own`` (clinician of record), ``clinician:other``, ``supervisor:own`` (supervises the clinician of
record), ``supervisor:other``, ``compliance``, ``operator``, ``service``; and four bad credentials: none,
expired, tampered (payload changed after signing), wrong audience. Anything not listed as allowed must be
refused with exactly 403 (bad credentials: 401), with a JSON ``detail``. A 2xx answer to a caller outside
the relationship (``*:other``, ``operator``) must not mention the resource's client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from rapport_alliance_monitor.app import build_app as build_monitor
from rapport_alliance_monitor.settings import AllianceMonitorSettings
from rapport_common.auth import issue_token
from rapport_consent.app import build_app as build_consent
from rapport_consent.settings import ConsentSettings
from rapport_intake.app import build_app as build_intake
from rapport_intake.settings import IntakeSettings
from rapport_session.app import build_app as build_session
from rapport_session.settings import SessionSettings
from soak.world import (
    Pair,
    Team,
    live_session,
    make_team,
    new_id,
    onboard,
    telemetry_windows,
    wait_for_alert,
    wait_known,
)

ROLE_CALLERS = (
    "client:own",
    "client:other",
    "clinician:own",
    "clinician:other",
    "supervisor:own",
    "supervisor:other",
    "compliance",
    "operator",
    "service",
)
BAD_CREDENTIALS = ("no-token", "expired", "tampered", "wrong-audience")
CALLERS = ROLE_CALLERS + BAD_CREDENTIALS
#: callers outside the resource's relationship: a 2xx to them must not mention the resource's client
OUTSIDERS = ("client:other", "clinician:other", "supervisor:other", "operator")


# -- the route tables -------------------------------------------------------------------------------------


def discovered_routes() -> list[tuple[str, str, str]]:
    """(service, METHOD, path) of every API route of every service, from the apps themselves."""
    unused = {"database_url": "postgresql://unused@127.0.0.1:1/unused", "jwt_secret": "route-table-" * 3}
    apps = {
        "intake": build_intake(IntakeSettings(**unused)),
        "session": build_session(SessionSettings(**unused)),
        "consent": build_consent(ConsentSettings(**unused)),
        "alliance-monitor": build_monitor(AllianceMonitorSettings(**unused)),
    }
    found = []
    for service, app in apps.items():
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if isinstance(route, APIRoute):
                for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                    found.append((service, method, context.path))
    return found


ROUTES = discovered_routes()


# -- the documented policy -------------------------------------------------------------------------------


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLE_CALLERS, status)


PUBLIC = "public"  # health and metrics: no token needed, credentials ignored

#: "service METHOD path" or "service METHOD path [variant]" -> {caller: expected success status}; every
#: other role caller gets 403, every bad credential 401 (PUBLIC: everybody, credentials or not, gets 200)
POLICY: dict[str, dict[str, int] | str] = {
    # intake (rapport_intake.domain.access)
    "intake POST /clinicians": {"operator": 201, "service": 201, "supervisor:own": 201},
    "intake GET /clinicians/{clinician_id}/caseload": {"clinician:own": 200, "supervisor:own": 200, "service": 200},
    "intake POST /clients": {"clinician:own": 201, "clinician:other": 201, "service": 201},
    "intake POST /clients/{client_id}/assignments": {"service": 201, "supervisor:own": 201},
    "intake POST /clients/{client_id}/intake": {"client:own": 201, "clinician:own": 201, "service": 201},
    "intake GET /clients/{client_id}/intake": {"clinician:own": 200, "compliance": 200},
    # session (rapport_session.api.deps + route docstrings)
    "session POST /sessions": {"clinician:own": 201, "service": 201},
    "session GET /sessions/{session_id}": {"client:own": 200, "clinician:own": 200, "service": 200},
    # a clinician lists only their own sessions (filtered: another clinician gets an empty list)
    "session GET /sessions": {"client:own": 200, "clinician:own": 200, "clinician:other": 200, "service": 200},
    "session POST /sessions/{session_id}/reschedule": {"client:own": 200, "clinician:own": 200},
    "session POST /sessions/{session_id}/cancel": {"client:own": 200, "clinician:own": 200},
    "session POST /sessions/{session_id}/start": {"clinician:own": 200, "service": 200},
    "session POST /sessions/{session_id}/join": {"client:own": 200, "clinician:own": 200, "service": 200},
    "session POST /sessions/{session_id}/leave": {"client:own": 200, "clinician:own": 200, "service": 200},
    "session POST /sessions/{session_id}/end": {"clinician:own": 200, "service": 200},
    "session POST /sessions/{session_id}/recording": {"clinician:own": 200, "service": 200},
    "session POST /telemetry": {"service": 202, "clinician:own": 202},
    "session POST /messages": {"client:own": 201, "clinician:own": 201},
    "session GET /messages": {"client:own": 200, "clinician:own": 200},
    "session POST /sessions/{session_id}/feedback/srs": {"client:own": 201},
    "session POST /sessions/{session_id}/feedback/ors": {"client:own": 201},
    "session POST /sessions/{session_id}/feedback/pulse": {"client:own": 201},
    "session POST /sessions/{session_id}/feedback/wai": {"client:own": 201},
    # consent (rapport_consent.api.deps role sets + object checks)
    "consent GET /consents/documents": everyone(200),
    "consent GET /consents/documents/{scope}/{version}": everyone(200),
    # publishing a consent text: the document-management automation only (api.consents.publish_document)
    "consent POST /consents/documents": {"service": 201},
    "consent POST /consents": {"client:own": 201, "clinician:own": 201, "service": 201},
    "consent POST /consents/{consent_id}/revoke": {"client:own": 200, "clinician:own": 200, "service": 200},
    "consent GET /consents/check": {"clinician:own": 200, "service": 200},
    "consent GET /consents/stats": {"operator": 200, "compliance": 200},
    "consent GET /consents/{consent_id}": {"client:own": 200, "clinician:own": 200, "compliance": 200, "service": 200},
    "consent GET /clients/{client_id}/consents": {
        "client:own": 200,
        "clinician:own": 200,
        "compliance": 200,
        "service": 200,
    },
    "consent GET /compliance/ledger": {"compliance": 200},
    "consent GET /compliance/ledger/verify": {"compliance": 200},
    "consent GET /compliance/ledger/export.csv": {"compliance": 200},
    "consent GET /compliance/export/fhir": {"compliance": 200},
    # alliance-monitor (rapport_alliance_monitor.api.access: audience routing)
    "alliance-monitor GET /alerts/stream": {
        "clinician:own": 200,
        "clinician:other": 200,
        "supervisor:own": 200,
        "supervisor:other": 200,
        "compliance": 200,
    },
    "alliance-monitor GET /alerts": {
        "clinician:own": 200,
        "clinician:other": 200,
        "supervisor:own": 200,
        "supervisor:other": 200,
        "compliance": 200,
    },
    "alliance-monitor GET /alerts/counts": {"operator": 200},
    "alliance-monitor GET /alerts/{alert_id} [clinician alert]": {"clinician:own": 200},
    "alliance-monitor GET /alerts/{alert_id} [supervisor alert]": {"supervisor:own": 200},
    "alliance-monitor GET /alerts/{alert_id} [compliance alert]": {"compliance": 200},
    "alliance-monitor POST /alerts/{alert_id}/acknowledge [clinician alert]": {"clinician:own": 200},
    "alliance-monitor POST /alerts/{alert_id}/acknowledge [supervisor alert]": {"supervisor:own": 200},
    "alliance-monitor POST /alerts/{alert_id}/acknowledge [compliance alert]": {"compliance": 200},
    "alliance-monitor POST /alerts/{alert_id}/resolve [clinician alert]": {"clinician:own": 200},
    "alliance-monitor POST /alerts/{alert_id}/resolve [supervisor alert]": {"supervisor:own": 200},
    "alliance-monitor POST /alerts/{alert_id}/resolve [compliance alert]": {"compliance": 200},
    "alliance-monitor GET /clients/{client_id}/trend": {"clinician:own": 200},
}
for _service in ("intake", "session", "consent", "alliance-monitor"):
    for _path in ("/healthz", "/readyz", "/metrics"):
        POLICY[f"{_service} GET {_path}"] = PUBLIC


def route_of(entry: str) -> str:
    return entry.split(" [", 1)[0]


def expected_status(entry: str, caller: str) -> int:
    policy = POLICY[entry]
    if policy == PUBLIC:
        return 200
    assert isinstance(policy, dict)
    if caller in BAD_CREDENTIALS:
        return 401
    return policy.get(caller, 403)


def cases() -> list[Any]:
    """One case per policy entry (all callers checked in it), plus a failing case per undocumented route."""
    params = []
    for service, method, path in ROUTES:
        route = f"{service} {method} {path}"
        entries = [entry for entry in POLICY if route_of(entry) == route]
        if not entries:
            params.append(pytest.param(route, id=f"{route} has no policy"))
        params.extend(pytest.param(entry, id=entry) for entry in entries)
    return params


def test_every_route_has_a_policy_and_every_policy_a_route() -> None:
    routes = {f"{service} {method} {path}" for service, method, path in ROUTES}
    documented = {route_of(entry) for entry in POLICY}
    assert sorted(routes - documented) == [], "routes without a documented policy"
    assert sorted(documented - routes) == [], "policy entries for routes that no longer exist"
    assert len(routes) >= 50  # the four services' API, health and metrics routes


# -- the world the cases act in --------------------------------------------------------------------------


@dataclass
class Target:
    """One request and the owners of the resource it touches (who ``*:own`` callers are)."""

    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None
    client: str | None = None
    clinician: str | None = None
    supervisor: str | None = None


@dataclass
class World:
    suite: Any
    team: Team
    other_team: Team
    pair: Pair  # client C of clinician A (supervisor S)
    other_pair: Pair  # a client of clinician B (supervisor S2)
    scheduled_session: str
    live_session: str
    consent_id: str
    document: tuple[str, str]
    alerts: dict[str, str]  # audience -> alert id about C
    auditor: str = "auditor-1"
    spare: list[Pair] = field(default_factory=list)

    @property
    def api(self) -> Any:
        return self.suite.api

    def subject(self, caller: str, target: Target) -> tuple[str, str]:
        role, _, which = caller.partition(":")
        own = {
            "client": target.client or self.pair.client,
            "clinician": target.clinician or self.pair.clinician,
            "supervisor": target.supervisor or self.pair.supervisor,
        }
        other = {
            "client": self.other_pair.client,
            "clinician": self.other_pair.clinician,
            "supervisor": self.other_pair.supervisor,
        }
        if which == "own":
            return role, own[role]
        if which == "other":
            return role, other[role]
        return role, {"compliance": self.auditor, "operator": "ops-1", "service": "reliability-service"}[role]

    async def fresh_pair(self) -> Pair:
        """A new client of clinician A that every service knows, with every consent and the intake done."""
        pair = await onboard(self.api, self.team, self.team.clinicians[0])
        await wait_known(self.api, pair)
        return pair

    async def fresh_alert(self, audience: str) -> tuple[str, Pair]:
        """A new open alert of ``audience`` about a client of clinician A."""
        api = self.api
        if audience == "clinician":
            await api.pulse(self.live_session, self.pair.client, 1)
            before = {a["alert_id"] for a in await api.alerts_for("clinician", self.pair.clinician, rule="pulse-low")}
            found = await _new_alert(api, ("clinician", self.pair.clinician), "pulse-low", self.pair.client, before)
            return found, self.pair
        if audience == "compliance":
            before = {
                a["alert_id"] for a in await api.alerts_for("compliance", self.auditor, rule="off-platform-contact")
            }
            await api.message(self.pair.client, "call me on 555 201 7788 instead", sender=("client", self.pair.client))
            found = await _new_alert(
                api, ("compliance", self.auditor), "off-platform-contact", self.pair.client, before
            )
            return found, self.pair
        pair = await self.fresh_pair()  # off-hours-contact is one open alert per pair
        for index in range(3):
            await api.message(pair.client, f"see you next week ({index})", sender=("clinician", pair.clinician))
        alerts = await wait_for_alert(
            api, "supervisor", pair.supervisor, rule="off-hours-contact", client_id=pair.client
        )
        return str(alerts[0]["alert_id"]), pair


async def _new_alert(api: Any, who: tuple[str, str], rule: str, client: str, before: set[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for alert in await api.alerts_for(*who, rule=rule, client_id=client):
            if alert["alert_id"] not in before:
                return str(alert["alert_id"])
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no new {rule} alert for {client}")


@pytest.fixture(scope="module")
async def world(suite: Any) -> World:
    api = suite.api
    team = await make_team(api, 2, off_hours=True)
    other_team = await make_team(api, 1)
    pair = await onboard(api, team, team.clinicians[0])
    other_pair = await onboard(api, other_team, other_team.clinicians[0])
    await wait_known(api, pair)
    await wait_known(api, other_pair)
    scheduled = await api.schedule(pair.client, pair.clinician)
    live = await live_session(api, pair)
    consent_id = (
        await api.call(
            "consent",
            "POST",
            "/consents",
            as_=("client", pair.client),
            json={"client_id": pair.client, "scope": "research"},
        )
    ).json()["consent_id"]
    documents = (await api.call("consent", "GET", "/consents/documents", as_=("service", "x"))).json()
    world = World(
        suite,
        team,
        other_team,
        pair,
        other_pair,
        scheduled,
        live,
        consent_id,
        (documents[0]["scope"], documents[0]["version"]),
        {},
    )
    for audience in ("clinician", "supervisor", "compliance"):
        alert_id, alert_pair = await world.fresh_alert(audience)
        world.alerts[audience] = alert_id
        if audience == "supervisor":
            world.alerts["supervisor-pair"] = alert_pair.client
    return world


# -- what each route is asked (fresh state for callers that are expected to succeed) ----------------------

Builder = Callable[[World, str, str, bool], Awaitable[Target]]
BUILDERS: dict[str, Builder] = {}


def builds(*entries: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        for entry in entries:
            BUILDERS[entry] = fn
        return fn

    return register


def _simple(method: str, path: str, **kwargs: Any) -> Builder:
    async def build(world: World, entry: str, caller: str, succeeds: bool) -> Target:
        values = {
            "client_id": world.pair.client,
            "clinician_id": world.pair.clinician,
            "session_id": world.scheduled_session,
            "consent_id": world.consent_id,
            "scope": world.document[0],
            "version": world.document[1],
        }
        params = {k: v.format(**values) for k, v in kwargs.get("params", {}).items()} or None
        return Target(method, path.format(**values), params=params)

    return build


for _entry, _builder in {
    "intake GET /clinicians/{clinician_id}/caseload": _simple("GET", "/clinicians/{clinician_id}/caseload"),
    "intake GET /clients/{client_id}/intake": _simple("GET", "/clients/{client_id}/intake"),
    "session GET /sessions/{session_id}": _simple("GET", "/sessions/{session_id}"),
    "session GET /sessions": _simple("GET", "/sessions", params={"client_id": "{client_id}"}),
    "session GET /messages": _simple("GET", "/messages", params={"client_id": "{client_id}"}),
    "consent GET /consents/documents": _simple("GET", "/consents/documents"),
    "consent GET /consents/documents/{scope}/{version}": _simple("GET", "/consents/documents/{scope}/{version}"),
    "consent GET /consents/check": _simple(
        "GET", "/consents/check", params={"client_id": "{client_id}", "scope": "research"}
    ),
    "consent GET /consents/stats": _simple("GET", "/consents/stats"),
    "consent GET /consents/{consent_id}": _simple("GET", "/consents/{consent_id}"),
    "consent GET /clients/{client_id}/consents": _simple("GET", "/clients/{client_id}/consents"),
    "consent GET /compliance/ledger": _simple("GET", "/compliance/ledger", params={"client_id": "{client_id}"}),
    "consent GET /compliance/ledger/verify": _simple("GET", "/compliance/ledger/verify"),
    "consent GET /compliance/ledger/export.csv": _simple(
        "GET", "/compliance/ledger/export.csv", params={"client_id": "{client_id}"}
    ),
    "consent GET /compliance/export/fhir": _simple(
        "GET", "/compliance/export/fhir", params={"client_id": "{client_id}"}
    ),
    "alliance-monitor GET /alerts": _simple("GET", "/alerts"),
    "alliance-monitor GET /alerts/counts": _simple("GET", "/alerts/counts"),
    "alliance-monitor GET /clients/{client_id}/trend": _simple("GET", "/clients/{client_id}/trend"),
}.items():
    BUILDERS[_entry] = _builder
for _service in ("intake", "session", "consent", "alliance-monitor"):
    for _path in ("/healthz", "/readyz", "/metrics"):
        BUILDERS[f"{_service} GET {_path}"] = _simple("GET", _path)


@builds("intake POST /clinicians")
async def _register_clinician(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    body = {
        "clinician_id": new_id("clin"),
        "display_name": "New Clinician",
        "timezone": "UTC",
        "working_hours": [{"weekday": 1, "start": "09:00", "end": "17:00"}],
        "supervisor_id": world.team.supervisor,
    }
    return Target("POST", "/clinicians", json=body)


@builds("intake POST /clients")
async def _register_client(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    return Target("POST", "/clients", json={"client_id": new_id("client"), "age_band": "adult", "timezone": "UTC"})


async def _intake_only_client(world: World) -> str:
    """A client registered and assigned to A in intake only (no other service needs to know it)."""
    client = new_id("client")
    await world.api.register_client(client, clinician_id=world.pair.clinician)
    await world.api.assign(client, world.pair.clinician, supervisor_id=world.team.supervisor)
    return client


@builds("intake POST /clients/{client_id}/assignments")
async def _assign(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    client = await _intake_only_client(world)
    return Target(
        "POST", f"/clients/{client}/assignments", json={"clinician_id": world.team.clinicians[1]}, client=client
    )


@builds("intake POST /clients/{client_id}/intake")
async def _intake(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    client = await _intake_only_client(world)
    body = {
        "presenting_concerns": ["low mood"],
        "goals": ["sleep better"],
        "baseline_ors": {"individual": 5.0, "interpersonal": 5.0, "social": 5.0, "overall": 5.0},
    }
    return Target("POST", f"/clients/{client}/intake", json=body, client=client)


@builds("session POST /sessions")
async def _schedule(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    start = time.time() + 7200
    body = {
        "client_id": world.pair.client,
        "scheduled_start": _iso(start),
        "scheduled_end": _iso(start + 3000),
        "session_id": f"s-{uuid.uuid4()}",
    }
    return Target("POST", "/sessions", json=body)


async def _session(world: World, succeeds: bool, *, state: str) -> str:
    if not succeeds:
        return world.live_session if state == "running" else world.scheduled_session
    session_id = await world.api.schedule(world.pair.client, world.pair.clinician)
    if state == "running":
        await world.api.start(session_id, world.pair.clinician)
    return session_id


@builds("session POST /sessions/{session_id}/reschedule")
async def _reschedule(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    session_id = await _session(world, succeeds, state="scheduled")
    start = time.time() + 10800
    body = {"scheduled_start": _iso(start), "scheduled_end": _iso(start + 3000)}
    return Target("POST", f"/sessions/{session_id}/reschedule", json=body)


@builds("session POST /sessions/{session_id}/cancel", "session POST /sessions/{session_id}/start")
async def _on_scheduled(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    session_id = await _session(world, succeeds, state="scheduled")
    return Target("POST", path_of(entry).replace("{session_id}", session_id))


@builds("session POST /sessions/{session_id}/join")
async def _join(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    session_id = await _session(world, succeeds, state="scheduled")
    body = {"participant": "client"} if caller == "service" else {}
    return Target("POST", f"/sessions/{session_id}/join", json=body)


@builds("session POST /sessions/{session_id}/leave")
async def _leave(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    session_id = await _session(world, succeeds, state="running")
    participant = "clinician" if caller == "clinician:own" else "client"
    if succeeds:
        await world.api.call(
            "session",
            "POST",
            f"/sessions/{session_id}/join",
            as_=("service", "video"),
            json={"participant": participant},
        )
    body = {"participant": participant} if caller == "service" else {}
    return Target("POST", f"/sessions/{session_id}/leave", json=body)


@builds("session POST /sessions/{session_id}/end", "session POST /sessions/{session_id}/recording")
async def _on_running(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    session_id = await _session(world, succeeds, state="running")
    return Target("POST", path_of(entry).replace("{session_id}", session_id))


@builds("session POST /telemetry")
async def _telemetry(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    return Target("POST", "/telemetry", json={"windows": telemetry_windows(world.live_session, 2)})


@builds("session POST /messages")
async def _message(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    return Target("POST", "/messages", json={"client_id": world.pair.client, "body": "see you on Tuesday"})


FEEDBACK_BODIES: dict[str, Any] = {
    "srs": {"items": dict.fromkeys(("relationship", "goals_topics", "approach_method", "overall"), 9.5)},
    "ors": {"items": dict.fromkeys(("individual", "interpersonal", "social", "overall"), 7.0)},
    "pulse": {"question": "felt-heard", "score": 5},
    "wai": {"items": [4] * 12},
}


@builds(*(f"session POST /sessions/{{session_id}}/feedback/{kind}" for kind in FEEDBACK_BODIES))
async def _feedback(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    path = path_of(entry)
    kind = path.rsplit("/", 1)[1]
    session_id = world.live_session
    if succeeds and kind != "pulse":  # SRS, ORS and WAI are once per session
        session_id = await _session(world, True, state="running")
    return Target("POST", path.replace("{session_id}", session_id), json=FEEDBACK_BODIES[kind])


@builds("consent POST /consents/documents")
async def _publish_document(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    body = {
        "scope": "third-party-sharing",
        "version": f"matrix-{uuid.uuid4().hex[:12]}",
        "title": "Consent to sharing with third parties (matrix)",
        "body": "I agree that my information may be shared with the third parties named here.",
    }
    return Target("POST", "/consents/documents", json=body)


@builds("consent POST /consents")
async def _grant(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    client = world.pair.client
    body: dict[str, Any] = {"client_id": client, "scope": "research"}
    if caller.startswith("clinician"):
        body |= {
            "method": "verbal-witnessed",
            "consenter": {"actor_id": client, "role": "client"},
            "witness": {"actor_id": "staff-1", "role": "staff"},
        }
    elif caller == "service":
        body["consenter"] = {"actor_id": client, "role": "client"}
    return Target("POST", "/consents", json=body)


@builds("consent POST /consents/{consent_id}/revoke")
async def _revoke(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    consent_id = world.consent_id
    if succeeds:
        consent_id = await world.api.grant(world.pair.client, "research")
    body = {"revoker": {"actor_id": world.pair.client, "role": "client"}} if caller == "service" else {}
    return Target("POST", f"/consents/{consent_id}/revoke", json=body)


@builds("alliance-monitor GET /alerts/stream")
async def _stream(world: World, entry: str, caller: str, succeeds: bool) -> Target:
    return Target("GET", "/alerts/stream")


def _alert_builder(action: str | None, audience: str) -> Builder:
    async def build(world: World, entry: str, caller: str, succeeds: bool) -> Target:
        alert_id, pair = world.alerts[audience], world.pair
        if succeeds and action is not None:
            alert_id, pair = await world.fresh_alert(audience)
        if action is None:
            return Target("GET", f"/alerts/{alert_id}", client=pair.client)
        body = {"note": "discussed in supervision"}
        return Target("POST", f"/alerts/{alert_id}/{action}", json=body, client=pair.client, supervisor=pair.supervisor)

    return build


for _audience in ("clinician", "supervisor", "compliance"):
    BUILDERS[f"alliance-monitor GET /alerts/{{alert_id}} [{_audience} alert]"] = _alert_builder(None, _audience)
    for _action in ("acknowledge", "resolve"):
        BUILDERS[f"alliance-monitor POST /alerts/{{alert_id}}/{_action} [{_audience} alert]"] = _alert_builder(
            _action, _audience
        )


def path_of(entry: str) -> str:
    return route_of(entry).split(" ", 2)[2]


# -- credentials -----------------------------------------------------------------------------------------


def credentials(world: World, caller: str, target: Target) -> dict[str, str]:
    secret = world.suite.secret
    a = world.pair.clinician
    if caller == "no-token":
        return {}
    if caller == "expired":
        token = issue_token(secret, subject=a, role="clinician", ttl_s=-120)
    elif caller == "wrong-audience":
        token = issue_token(secret, subject=a, role="service", audience="another-product")
    elif caller == "tampered":
        token = _tampered(issue_token(secret, subject=a, role="client"), role="service")
    else:
        role, subject = world.subject(caller, target)
        token = issue_token(secret, subject=subject, role=role)
    return {"Authorization": f"Bearer {token}"}


def _tampered(token: str, **changes: str) -> str:
    """The same signature over a changed payload (role escalated)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims |= changes
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


# -- the matrix ------------------------------------------------------------------------------------------


async def _send(client: httpx.AsyncClient, target: Target, headers: dict[str, str], stream: bool) -> tuple[int, str]:
    if not stream:
        response = await client.request(
            target.method, target.path, json=target.json, params=target.params, headers=headers
        )
        return response.status_code, response.text
    # the alert stream: replay everything the caller may see (Last-Event-ID 0), read until the first heartbeat
    chunks: list[str] = []
    async with client.stream("GET", target.path, headers=headers | {"Last-Event-ID": "0"}) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, response.text
        try:
            async with asyncio.timeout(10):
                async for text in response.aiter_text():
                    chunks.append(text)
                    if ": heartbeat" in text:
                        break
        except TimeoutError:
            pass
        return 200, "".join(chunks)


async def check_caller(world: World, entry: str, caller: str) -> str | None:
    """None when ``caller`` gets the documented answer on ``entry``, else what went wrong."""
    expected = expected_status(entry, caller)
    target = await BUILDERS[entry](world, entry, caller, 200 <= expected < 300)
    service = entry.split(" ", 1)[0]
    headers = credentials(world, caller, target)
    status, text = await _send(world.api.client(service), target, headers, stream=target.path == "/alerts/stream")
    if status != expected:
        return f"{caller}: expected {expected}, got {status} for {target.method} {target.path}: {text[:200]}"
    if status in (401, 403):
        detail = json.loads(text).get("detail")
        if not (isinstance(detail, str) and detail):
            return f"{caller}: {status} without a detail: {text[:200]}"
    if 200 <= status < 300 and caller in OUTSIDERS and POLICY[entry] != PUBLIC:
        owner = target.client or world.pair.client
        if owner in text:
            return f"{caller}: a {status} that names {owner}: {text[:200]}"
    if entry.endswith("GET /alerts/stream") and caller in ("clinician:own", "supervisor:own", "compliance"):
        audience = {"clinician:own": "clinician", "supervisor:own": "supervisor", "compliance": "compliance"}[caller]
        if world.alerts[audience] not in text:
            return f"{caller}: the stream's replay misses the caller's own {audience} alert"
    if entry.endswith("GET /alerts") and caller == "clinician:own" and world.alerts["clinician"] not in text:
        return f"{caller}: the list misses the caller's own alert"
    return None


@pytest.mark.parametrize("entry", cases())
async def test_authorisation(world: World, entry: str) -> None:
    """Every caller (9 roles x own/other, 4 bad credentials) gets exactly the documented answer on ``entry``."""
    assert entry in POLICY, f"{entry}: no documented policy; add it to POLICY (and its builder)"
    assert entry in BUILDERS, f"{entry}: no request builder"
    problems = [problem for caller in CALLERS if (problem := await check_caller(world, entry, caller))]
    assert problems == [], "\n".join(problems)
