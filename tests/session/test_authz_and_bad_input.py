"""Who may do what (authz matrix) and a table of bad inputs, each refused with a 4xx naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rapport_common.auth import issue_token

OTHER = "someone-else"


@pytest.fixture
async def world(svc: Any) -> dict[str, Any]:
    client, clinician = await svc.pair()
    booked = await svc.schedule(client, clinician, start_in=timedelta(hours=30))
    return {"client": client, "clinician": clinician, "sid": booked["session_id"]}


def _caller(svc: Any, world: dict[str, Any], who: str) -> dict[str, str]:
    return {
        "own-client": svc.as_client(world["client"]),
        "other-client": svc.as_client(OTHER),
        "own-clinician": svc.as_clinician(world["clinician"]),
        "other-clinician": svc.as_clinician(OTHER),
        "service": svc.as_service(),
        "supervisor": svc.headers("supervisor", "sup-1"),
        "compliance": svc.headers("compliance", "comp-1"),
        "operator": svc.headers("operator", "op-1"),
        "anonymous": {},
    }[who]


CALLERS = [
    "own-client",
    "other-client",
    "own-clinician",
    "other-clinician",
    "service",
    "supervisor",
    "compliance",
    "operator",
    "anonymous",
]
# action -> callers allowed (everyone else gets 401 without a token, 403 with one)
MATRIX = {
    "schedule": {"own-clinician", "service"},
    "read": {"own-client", "own-clinician", "service"},
    "cancel": {"own-client", "own-clinician"},
    "message": {"own-client", "own-clinician"},
}


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("action", sorted(MATRIX))
async def test_authz_matrix(svc: Any, world: dict[str, Any], action: str, who: str) -> None:
    headers = _caller(svc, world, who)
    start = svc.clock.now() + timedelta(days=9)
    if action == "schedule":
        body = {
            "client_id": world["client"],
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(minutes=50)).isoformat(),
        }
        response = await svc.http.post("/sessions", json=body, headers=headers)
    elif action == "read":
        response = await svc.http.get(f"/sessions/{world['sid']}", headers=headers)
    elif action == "cancel":
        response = await svc.http.post(f"/sessions/{world['sid']}/cancel", headers=headers)
    else:
        response = await svc.http.post("/messages", json={"client_id": world["client"], "body": "hi"}, headers=headers)
    expected = {200, 201} if who in MATRIX[action] else ({401} if who == "anonymous" else {403})
    assert response.status_code in expected, (action, who, response.text)


async def test_only_the_client_fills_in_feedback_and_only_clinician_or_service_start(
    svc: Any, world: dict[str, Any]
) -> None:
    sid = world["sid"]
    start = await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_client(world["client"]))
    assert start.status_code == 403
    start = await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(OTHER))
    assert start.status_code == 403
    assert (await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_service())).status_code == 200
    pulse = {"question": "felt-heard", "score": 5}
    for headers in (svc.as_clinician(world["clinician"]), svc.as_service(), svc.as_client(OTHER)):
        response = await svc.http.post(f"/sessions/{sid}/feedback/pulse", json=pulse, headers=headers)
        assert response.status_code == 403
    response = await svc.http.post(
        f"/sessions/{sid}/feedback/pulse", json=pulse, headers=svc.as_client(world["client"])
    )
    assert response.status_code == 201
    telemetry = await svc.http.post("/telemetry", json={"windows": []}, headers=svc.as_client(world["client"]))
    assert telemetry.status_code in (403, 422)


async def test_expired_and_foreign_tokens_are_401(svc: Any, world: dict[str, Any]) -> None:
    expired = issue_token("session-test-secret-of-32-bytes!!", subject=world["client"], role="client", ttl_s=-10)
    forged = issue_token("another-secret-of-at-least-32-bytes", subject=world["client"], role="client")
    for token in (expired, forged):
        response = await svc.http.get(f"/sessions/{world['sid']}", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401


def _iso(svc: Any, **delta: float) -> str:
    return (svc.clock.now() + timedelta(**delta)).isoformat()


SRS_OK = {"relationship": 9.0, "goals_topics": 9.0, "approach_method": 9.0, "overall": 9.0}

# (name, method, path template, body builder, expected status, field named in the answer)
BAD_INPUTS: list[tuple[str, str, str, Any, int, str]] = [
    (
        "end before start",
        "schedule",
        "",
        lambda s, w: {"client_id": w["client"], "scheduled_start": _iso(s, days=3), "scheduled_end": _iso(s, days=2)},
        422,
        "scheduled_end",
    ),
    (
        "naive start",
        "schedule",
        "",
        lambda s, w: {
            "client_id": w["client"],
            "scheduled_start": "2031-01-10T10:00:00",
            "scheduled_end": _iso(s, days=2),
        },
        422,
        "body.scheduled_start",
    ),
    (
        "start in the past",
        "schedule",
        "",
        lambda s, w: {
            "client_id": w["client"],
            "scheduled_start": _iso(s, hours=-1),
            "scheduled_end": _iso(s, hours=1),
        },
        422,
        "scheduled_start",
    ),
    (
        "six-hour session",
        "schedule",
        "",
        lambda s, w: {
            "client_id": w["client"],
            "scheduled_start": _iso(s, days=2),
            "scheduled_end": _iso(s, days=2, hours=6),
        },
        422,
        "scheduled_end",
    ),
    (
        "unknown modality",
        "schedule",
        "",
        lambda s, w: {
            "client_id": w["client"],
            "scheduled_start": _iso(s, days=2),
            "scheduled_end": _iso(s, days=2, hours=1),
            "modality": "hologram",
        },
        422,
        "body.modality",
    ),
    (
        "unknown field",
        "schedule",
        "",
        lambda s, w: {
            "client_id": w["client"],
            "scheduled_start": _iso(s, days=2),
            "scheduled_end": _iso(s, days=2, hours=1),
            "colour": "red",
        },
        422,
        "body.colour",
    ),
    (
        "missing client_id",
        "schedule",
        "",
        lambda s, w: {"scheduled_start": _iso(s, days=2), "scheduled_end": _iso(s, days=2, hours=1)},
        422,
        "body.client_id",
    ),
    (
        "client_id with spaces",
        "schedule",
        "",
        lambda s, w: {
            "client_id": "a b",
            "scheduled_start": _iso(s, days=2),
            "scheduled_end": _iso(s, days=2, hours=1),
        },
        422,
        "body.client_id",
    ),
    ("srs item above 10", "srs", "", lambda s, w: {"items": {**SRS_OK, "overall": 10.5}}, 422, "body.items.overall"),
    (
        "srs item two decimals",
        "srs",
        "",
        lambda s, w: {"items": {**SRS_OK, "relationship": 9.25}},
        422,
        "body.items.relationship",
    ),
    ("srs missing item", "srs", "", lambda s, w: {"items": {"relationship": 9.0}}, 422, "body.items.goals_topics"),
    ("srs total sent by client", "srs", "", lambda s, w: {"items": SRS_OK, "total": 40}, 422, "body.total"),
    ("pulse score 6", "pulse", "", lambda s, w: {"question": "felt-heard", "score": 6}, 422, "body.score"),
    ("pulse unknown question", "pulse", "", lambda s, w: {"question": "happy", "score": 3}, 422, "body.question"),
    ("wai 11 items", "wai", "", lambda s, w: {"items": [3] * 11}, 422, "body.items"),
    ("wai item 0", "wai", "", lambda s, w: {"items": [0] + [3] * 11}, 422, "body.items.0"),
    ("empty message", "message", "", lambda s, w: {"client_id": w["client"], "body": ""}, 422, "body.body"),
    ("blank message", "message", "", lambda s, w: {"client_id": w["client"], "body": "   "}, 422, "body.body"),
    ("huge message", "message", "", lambda s, w: {"client_id": w["client"], "body": "x" * 5000}, 422, "body.body"),
    (
        "telemetry silence longer than window",
        "telemetry",
        "",
        lambda s, w: {
            "windows": [
                {
                    "session_id": w["sid"],
                    "window_start": _iso(s),
                    "window_end": _iso(s, minutes=1),
                    "client_talk_ratio": 0.2,
                    "client_camera_on_ratio": 1.0,
                    "longest_silence_s": 61,
                }
            ]
        },
        422,
        "longest_silence_s",
    ),
    (
        "telemetry negative ratio",
        "telemetry",
        "",
        lambda s, w: {
            "windows": [
                {
                    "session_id": w["sid"],
                    "window_start": _iso(s),
                    "window_end": _iso(s, minutes=1),
                    "client_talk_ratio": -0.1,
                    "client_camera_on_ratio": 1.0,
                    "longest_silence_s": 1,
                }
            ]
        },
        422,
        "body.windows.0.client_talk_ratio",
    ),
    ("telemetry no windows", "telemetry", "", lambda s, w: {"windows": []}, 422, "body.windows"),
    ("not json", "message", "", lambda s, w: "{not json", 422, "body"),
]


@pytest.mark.parametrize(("name", "action", "_", "body", "status", "field"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
async def test_bad_input_is_refused_naming_the_field(
    svc: Any, world: dict[str, Any], name: str, action: str, _: str, body: Any, status: int, field: str
) -> None:
    sid = world["sid"]
    if action in ("srs", "pulse", "wai"):
        svc.clock.advance(timedelta(hours=30))
        await svc.http.post(f"/sessions/{sid}/join", headers=svc.as_client(world["client"]))
        assert (
            await svc.http.post(f"/sessions/{sid}/start", headers=svc.as_clinician(world["clinician"]))
        ).status_code == 200
    payload = body(svc, world)
    path, headers = {
        "schedule": ("/sessions", svc.as_clinician(world["clinician"])),
        "srs": (f"/sessions/{sid}/feedback/srs", svc.as_client(world["client"])),
        "pulse": (f"/sessions/{sid}/feedback/pulse", svc.as_client(world["client"])),
        "wai": (f"/sessions/{sid}/feedback/wai", svc.as_client(world["client"])),
        "message": ("/messages", svc.as_client(world["client"])),
        "telemetry": ("/telemetry", svc.as_service()),
    }[action]
    if isinstance(payload, str):
        response = await svc.http.post(path, content=payload, headers={**headers, "content-type": "application/json"})
    else:
        response = await svc.http.post(path, json=payload, headers=headers)
    assert response.status_code == status, response.text
    assert field in response.json()["detail"], response.text
    events = await svc.events.wait_for(world["client"], 1, settle=0.3)
    accepted = {"session.scheduled", "session.participant-joined", "session.started"}
    assert set(svc.types(events)) <= accepted, name
