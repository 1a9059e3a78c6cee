"""Asks the consent service whether a scope is active for a client now: cached briefly, fails closed.

The consent service owns consent; this service only asks. Answers are cached for ``consent_cache_ttl_s``
so hot paths (telemetry, messages) do not call it per request. When the consent service does not answer
(timeout, connection refused, 5xx, malformed answer) the scope counts as NOT active: nothing that needs
consent happens without a positive answer. Failures are not cached, so recovery is immediate.

Assumed contract of the check endpoint (configurable path): ``GET {url}{path}?client_id=X&scope=S`` with a
``service`` bearer token, answering ``200 {"active": true|false, ...}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import httpx
from prometheus_client import Counter

from rapport_common.auth import issue_token

log = logging.getLogger(__name__)

CONSENT_CHECKS = Counter(
    "rapport_session_consent_checks_total",
    "Consent checks by outcome (cache hits included)",
    ["scope", "outcome"],
)

TELEHEALTH = "telehealth-treatment"
RECORDING = "session-recording"
FEEDBACK = "measurement-feedback"
ANALYTICS = "alliance-analytics"
SCANNING = "message-scanning"


class ConsentClient:
    def __init__(
        self,
        *,
        base_url: str,
        check_path: str,
        timeout_s: float,
        cache_ttl_s: float,
        jwt_secret: str | None,
        audience: str = "rapport",
        issuer: str = "rapport",
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._path = check_path
        self._ttl = cache_ttl_s
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._secret = jwt_secret
        self._audience = audience
        self._issuer = issuer
        self._token: tuple[float, str] | None = None

    async def close(self) -> None:
        await self._http.aclose()

    def forget(self) -> None:
        """Drop every cached answer (tests; a consent event could call it too)."""
        self._cache.clear()

    def _bearer(self) -> dict[str, str]:
        if self._secret is None:
            return {}
        now = time.monotonic()
        if self._token is None or self._token[0] < now:
            token = issue_token(
                self._secret, subject="session-service", role="service", audience=self._audience, issuer=self._issuer
            )
            self._token = (now + 1800, token)
        return {"authorization": f"Bearer {self._token[1]}"}

    async def is_active(self, client_id: str, scope: str) -> bool:
        """True only when the consent service says so (or said so within the cache TTL)."""
        key = (client_id, scope)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            CONSENT_CHECKS.labels(scope, "cached").inc()
            return cached[1]
        try:
            response = await self._http.get(
                self._path, params={"client_id": client_id, "scope": scope}, headers=self._bearer()
            )
            response.raise_for_status()
            active = response.json()["active"]
            if not isinstance(active, bool):
                raise ValueError("'active' is not a boolean")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            CONSENT_CHECKS.labels(scope, "unavailable").inc()
            log.warning("consent service did not answer; failing closed", extra={"reason": type(exc).__name__})
            return False
        CONSENT_CHECKS.labels(scope, "active" if active else "inactive").inc()
        if self._ttl > 0:
            self._cache[key] = (now + self._ttl, active)
        return active

    async def active_clients(self, client_ids: Iterable[str], scope: str) -> set[str]:
        """The clients of ``client_ids`` for whom ``scope`` is active (checked concurrently)."""
        ids = list(dict.fromkeys(client_ids))
        answers = await asyncio.gather(*(self.is_active(client_id, scope) for client_id in ids))
        return {client_id for client_id, active in zip(ids, answers, strict=True) if active}
