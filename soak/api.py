"""Rapport's public HTTP APIs as a caller sees them, with a ledger of every write that was accepted.

The reliability tests and the soak runner both drive the suite through this: it mints bearer tokens for
any role and subject, and every 2xx answer to a POST is kept (:class:`Accepted`) so that after a fault the
checks can ask "is everything we were told was accepted really there, once?". Error answers are counted
by status so a run can prove it saw nothing beyond documented back-pressure.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from rapport_common.auth import issue_token

SERVICES = ("intake", "session", "consent", "alliance-monitor")
#: statuses a loaded suite may answer with when it says "come back later" (with Retry-After)
BACK_PRESSURE = (429, 503)


@dataclass(frozen=True)
class Accepted:
    """One write the suite acknowledged: which service, which route, the ids it created or changed."""

    service: str
    route: str
    status: int
    ids: Mapping[str, str]
    at: float


@dataclass
class CallStats:
    by_status: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    back_pressure_without_retry_after: int = 0
    unexpected: list[str] = field(default_factory=list)


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text[:300]}"
        )
        self.response = response


class Rapport:
    """Typed-enough calls on the four services. ``urls`` maps service name to base URL."""

    def __init__(
        self,
        urls: Mapping[str, str],
        secret: str,
        *,
        timeout_s: float = 10.0,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.secret = secret
        self.accepted: list[Accepted] = []
        self.stats = CallStats()
        self._tokens: dict[tuple[str, str], str] = {}
        self._http = {
            name: httpx.AsyncClient(
                base_url=url,
                timeout=timeout_s,
                transport=(transports or {}).get(name),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            )
            for name, url in urls.items()
        }

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._http.values()))

    def client(self, service: str) -> httpx.AsyncClient:
        return self._http[service]

    def token(self, role: str, subject: str) -> str:
        key = (role, subject)
        if key not in self._tokens:
            self._tokens[key] = issue_token(self.secret, subject=subject, role=role, ttl_s=6 * 3600)
        return self._tokens[key]

    def auth(self, role: str, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject)}"}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        as_: tuple[str, str],
        json: Any = None,
        params: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201, 202),
        ids: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request as ``as_ = (role, subject)``; raises :class:`ApiError` unless the status is expected.

        A 2xx POST is recorded in :attr:`accepted` with ``ids`` plus the ids found in the answer."""
        role, subject = as_
        all_headers = self.auth(role, subject) | dict(headers or {})
        try:
            response = await self._http[service].request(method, path, json=json, params=params, headers=all_headers)
        except httpx.TransportError as exc:
            self.stats.transport_errors[type(exc).__name__] += 1
            raise
        self.stats.by_status[response.status_code] += 1
        if response.status_code in BACK_PRESSURE and "retry-after" not in response.headers:
            self.stats.back_pressure_without_retry_after += 1
        if method == "POST" and 200 <= response.status_code < 300:
            found = dict(ids or {})
            body = _json_or_none(response)
            if isinstance(body, dict):
                for name in (
                    "client_id",
                    "clinician_id",
                    "session_id",
                    "consent_id",
                    "message_id",
                    "response_id",
                    "intake_id",
                    "alert_id",
                ):
                    value = body.get(name)
                    if isinstance(value, str):
                        found.setdefault(name, value)
            self.accepted.append(Accepted(service, f"{method} {path}", response.status_code, found, time.time()))
        if response.status_code not in expect:
            if response.status_code >= 500 or response.status_code not in BACK_PRESSURE:
                self.stats.unexpected.append(f"{method} {path} -> {response.status_code} {response.text[:200]}")
            raise ApiError(response)
        return response

    # -- intake ---------------------------------------------------------------------------------------

    async def register_clinician(
        self, clinician_id: str, *, supervisor_id: str, working_hours: list[dict[str, Any]], name: str
    ) -> None:
        body = {
            "clinician_id": clinician_id,
            "display_name": name,
            "timezone": "UTC",
            "working_hours": working_hours,
            "supervisor_id": supervisor_id,
        }
        await self.call("intake", "POST", "/clinicians", as_=("service", "reliability"), json=body)

    async def register_client(self, client_id: str, *, clinician_id: str, age_band: str = "adult") -> None:
        body = {"client_id": client_id, "age_band": age_band, "timezone": "UTC"}
        await self.call("intake", "POST", "/clients", as_=("clinician", clinician_id), json=body)

    async def assign(self, client_id: str, clinician_id: str, *, supervisor_id: str) -> None:
        await self.call(
            "intake",
            "POST",
            f"/clients/{client_id}/assignments",
            as_=("supervisor", supervisor_id),
            json={"clinician_id": clinician_id},
        )

    async def complete_intake(self, client_id: str, *, goals: list[str], concerns: list[str]) -> None:
        body = {
            "presenting_concerns": concerns,
            "goals": goals,
            "baseline_ors": {"individual": 4.5, "interpersonal": 5.0, "social": 4.0, "overall": 4.5},
        }
        await self.call("intake", "POST", f"/clients/{client_id}/intake", as_=("client", client_id), json=body)

    # -- consent --------------------------------------------------------------------------------------

    async def grant(self, client_id: str, scope: str) -> str:
        response = await self.call(
            "consent", "POST", "/consents", as_=("client", client_id), json={"client_id": client_id, "scope": scope}
        )
        return str(response.json()["consent_id"])

    # -- session --------------------------------------------------------------------------------------

    async def schedule(self, client_id: str, clinician_id: str, *, in_minutes: float = 60, length_min: int = 50) -> str:
        start = time.time() + in_minutes * 60
        body = {
            "client_id": client_id,
            "scheduled_start": _iso(start),
            "scheduled_end": _iso(start + length_min * 60),
            "session_id": f"s-{uuid.uuid4()}",
        }
        response = await self.call("session", "POST", "/sessions", as_=("clinician", clinician_id), json=body)
        return str(response.json()["session_id"])

    async def start(self, session_id: str, clinician_id: str) -> None:
        await self.call("session", "POST", f"/sessions/{session_id}/start", as_=("clinician", clinician_id))

    async def join(self, session_id: str, client_id: str) -> None:
        await self.call("session", "POST", f"/sessions/{session_id}/join", as_=("client", client_id), json={})

    async def end(self, session_id: str, clinician_id: str) -> None:
        await self.call("session", "POST", f"/sessions/{session_id}/end", as_=("clinician", clinician_id))

    async def ors(self, session_id: str, client_id: str, total_each: float = 6.0) -> None:
        items = dict.fromkeys(("individual", "interpersonal", "social", "overall"), total_each)
        await self.call(
            "session",
            "POST",
            f"/sessions/{session_id}/feedback/ors",
            as_=("client", client_id),
            json={"items": items},
            ids={"session_id": session_id},
        )

    async def srs(self, session_id: str, client_id: str, *, each: float, comment: str | None) -> None:
        items = dict.fromkeys(("relationship", "goals_topics", "approach_method", "overall"), each)
        await self.call(
            "session",
            "POST",
            f"/sessions/{session_id}/feedback/srs",
            as_=("client", client_id),
            json={"items": items, "comment": comment},
            ids={"session_id": session_id},
        )

    async def pulse(self, session_id: str, client_id: str, score: int) -> str:
        response = await self.call(
            "session",
            "POST",
            f"/sessions/{session_id}/feedback/pulse",
            as_=("client", client_id),
            json={"question": "felt-heard", "score": score},
            ids={"session_id": session_id},
        )
        return str(response.json()["response_id"])

    async def message(self, client_id: str, text: str, *, sender: tuple[str, str]) -> str:
        response = await self.call(
            "session",
            "POST",
            "/messages",
            as_=sender,
            json={"client_id": client_id, "body": text},
            ids={"client_id": client_id},
        )
        return str(response.json()["message_id"])

    async def telemetry(self, session_id: str, windows: list[dict[str, Any]]) -> None:
        await self.call(
            "session",
            "POST",
            "/telemetry",
            as_=("service", "video-client"),
            json={"windows": windows},
            ids={"session_id": session_id},
        )

    # -- alliance-monitor -----------------------------------------------------------------------------

    async def alerts_for(self, role: str, subject: str, **params: str) -> list[dict[str, Any]]:
        response = await self.call("alliance-monitor", "GET", "/alerts", as_=(role, subject), params=params)
        return list(response.json()["alerts"])

    async def metrics_text(self, service: str) -> str:
        response = await self._http[service].get("/metrics")
        response.raise_for_status()
        return response.text


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
