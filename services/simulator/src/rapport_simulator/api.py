"""The services' public HTTP APIs as the front ends call them: bearer tokens per role, back-pressure, retries.

- Tokens are minted with ``rapport_common.auth.issue_token`` from the suite's JWT secret, per (subject,
  role), and renewed before they expire.
- 429 and 503 are back-pressure: wait ``Retry-After`` (seconds; 1 s when absent) and try again, without
  limit while the run lasts. Connection errors and other 5xx: exponential backoff, a few attempts.
- 409s that mean "not known here yet" (the other service has not consumed the registration or the
  assignment) are retried for a while: the services learn about each other from events, so they are
  eventually consistent.
- POSTs that accept an ``Idempotency-Key`` get one, so a retry never has a second effect.
Nothing logged here carries client data: only paths' first segment, status codes and counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rapport_common.auth import issue_token

log = logging.getLogger("rapport_simulator.api")

#: 409 details that mean "retry later" (eventual consistency between services)
NOT_YET = ("not registered yet", "no assigned clinician yet", "age band is not known yet", "not assigned to")
#: 403 details of a consent refusal (retried while ``consent_known``: the simulator granted that consent)
CONSENT_NOT_YET = ("consent:",)
SERVICES = ("intake", "session", "consent", "alliance-monitor")


class ApiError(Exception):
    def __init__(self, status: int, detail: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path.split('/')[1] if '/' in path else path}: {status} {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class RunInfo:
    """What the simulator needs from the launcher's ``run.json``."""

    services: dict[str, str]
    jwt_secret: str
    kafka_bootstrap_servers: str | None
    processes: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> RunInfo:
        content = json.loads(Path(path).read_text())
        if not content.get("ready", True):
            raise RuntimeError(f"{path}: the suite is not ready yet")
        secret = Path(content["jwt_secret_file"]).read_text().strip()
        services = dict(content["services"])
        missing = [s for s in ("intake", "session", "consent") if s not in services]
        if missing:
            raise RuntimeError(f"{path}: no base URL for {', '.join(missing)}")
        return cls(services, secret, content.get("kafka_bootstrap_servers"), content.get("processes", {}))


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    backpressure_waits: int = 0
    retries: int = 0
    failures: int = 0


class Tokens:
    def __init__(self, secret: str, ttl_s: int = 3600) -> None:
        self._secret = secret
        self._ttl = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}

    def bearer(self, subject: str, role: str) -> dict[str, str]:
        key = (subject, role)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is None or cached[0] < now:
            token = issue_token(self._secret, subject=subject, role=role, ttl_s=self._ttl)
            cached = (now + self._ttl - 120, token)
            self._cache[key] = cached
        return {"authorization": f"Bearer {cached[1]}"}


class Api:
    """One shared ``httpx.AsyncClient`` per service; ``call`` does auth, back-pressure and retries."""

    def __init__(self, run: RunInfo, *, timeout_s: float = 30.0, max_connections: int = 64) -> None:
        self.run = run
        self.tokens = Tokens(run.jwt_secret)
        self.stats = Stats()
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits)
            for name, url in run.services.items()
        }

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients.values()))

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        as_: tuple[str, str],
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
        not_yet_for_s: float = 30.0,
        ok: tuple[int, ...] = (),
        consent_known: bool = True,
    ) -> Any:
        """The decoded JSON answer of a 2xx (or of a status in ``ok``); ``ApiError`` otherwise."""
        client = self._clients[service]
        headers = self.tokens.bearer(*as_)
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        label = f"{service} {method} {_route(path)}"
        deadline = time.monotonic() + not_yet_for_s
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await client.request(method, path, json=json_body, params=params, headers=headers)
            except (httpx.TransportError, httpx.TimeoutException):
                if attempt >= 6:
                    self.stats.failures += 1
                    raise
                self.stats.retries += 1
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            self.stats.requests[label] += 1
            self.stats.statuses[response.status_code] += 1
            status = response.status_code
            if status in (429, 503):
                self.stats.backpressure_waits += 1
                await asyncio.sleep(_retry_after(response))
                continue
            if 500 <= status < 600 and attempt < 6:
                self.stats.retries += 1
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            if status < 300 or status in ok:
                return response.json() if response.content else None
            detail = _detail(response)
            retryable = (
                (status == 409 and any(s in detail for s in NOT_YET))
                or (status == 403 and ("not assigned" in detail or "client_id: this client" in detail))
                # the simulator only acts under consent it granted: a refusal here is the session service's
                # consent check failing closed (timeout under load) or not seeing the grant yet
                or (status == 403 and detail.startswith(CONSENT_NOT_YET) and consent_known)
            )
            if retryable and time.monotonic() < deadline:
                self.stats.retries += 1
                await asyncio.sleep(min(0.1 * attempt, 1.0))
                continue
            self.stats.failures += 1
            raise ApiError(status, detail, method, path)


def _route(path: str) -> str:
    """The route template of a path, without ids (for counts that carry no client data)."""
    parts = path.strip("/").split("/")
    if parts and parts[0] in ("sessions", "clients", "clinicians", "consents", "alerts"):
        return "/" + "/".join(p if i == 0 or not _looks_like_id(p) else "{id}" for i, p in enumerate(parts))
    return "/" + parts[0]


def _looks_like_id(part: str) -> bool:
    return any(ch.isdigit() for ch in part) or len(part) > 20


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.05), 30.0)
    except ValueError:
        return 1.0


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail", body))[:300]
    return str(body)[:300]
