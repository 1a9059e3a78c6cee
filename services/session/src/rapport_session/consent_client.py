"""Is a consent scope active for a client now? Asks the consent service, caches briefly, fails closed, and
falls back to the local consent view when the consent service does not answer.

The consent service owns consent; this service asks it (``GET {url}{path}?client_id=X&scope=S`` with a
``service`` bearer token, answering ``200 {"active": bool, ...}``) and reuses an answer for
``consent_cache_ttl_s``, so hot paths (telemetry, messages) do not call it per request. Failures are not
cached, so recovery is immediate.

When the consent service does not answer (timeout, connection refused, 5xx, malformed answer), the local
view (``store.consent_view``, fed by ``consent.events``) decides, but only while the consumer feeding it is
current (it polled within ``consent_view_max_age_s``): a client the view shows covered stays covered, so an
outage does not stop sessions already known to be covered; a client the view shows not covered is not
covered. If the view is not current either, nothing is known: :class:`ConsentUnavailable`, which the API
answers with 503 and ``Retry-After`` (never "no consent", which would be a claim about the client).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import asyncpg
import httpx
from prometheus_client import Counter

from rapport_common.auth import issue_token
from rapport_session.store import consent_view

log = logging.getLogger(__name__)

CONSENT_CHECKS = Counter(
    "rapport_session_consent_checks_total",
    "Consent checks by where the answer came from and what it was",
    ["scope", "outcome"],
)

TELEHEALTH = "telehealth-treatment"
RECORDING = "session-recording"
FEEDBACK = "measurement-feedback"
ANALYTICS = "alliance-analytics"
SCANNING = "message-scanning"


class ConsentUnavailable(Exception):
    """Neither the consent service nor a current local view could say whether the scope is active."""

    def __init__(self, scope: str, retry_after_s: int) -> None:
        super().__init__(f"consent: cannot confirm {scope} consent now (consent service unavailable)")
        self.scope = scope
        self.retry_after_s = retry_after_s


class _NoAnswer(Exception):
    pass


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
        view: asyncpg.Pool | None = None,
        view_current: Callable[[], bool] = lambda: False,
        now: Callable[[], datetime] | None = None,
        retry_after_s: int = 5,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._path = check_path
        self._ttl = cache_ttl_s
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._secret = jwt_secret
        self._audience = audience
        self._issuer = issuer
        self._token: tuple[float, str] | None = None
        self._view = view
        self._view_current = view_current
        self._now = now
        self._retry_after_s = retry_after_s

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
        """True when the consent service says so (or said so within the cache TTL), or, while it does not
        answer, when the current local view shows the client covered. Raises :class:`ConsentUnavailable`."""
        return client_id in await self.active_clients([client_id], scope)

    async def active_clients(self, client_ids: Iterable[str], scope: str) -> set[str]:
        """The clients of ``client_ids`` for whom ``scope`` is active (asked concurrently, one view query for
        those the consent service did not answer for). Raises :class:`ConsentUnavailable`."""
        ids = list(dict.fromkeys(client_ids))
        answers = await asyncio.gather(*(self._ask(client_id, scope) for client_id in ids), return_exceptions=True)
        active = {client_id for client_id, answer in zip(ids, answers, strict=True) if answer is True}
        unanswered = [
            client_id for client_id, answer in zip(ids, answers, strict=True) if isinstance(answer, _NoAnswer)
        ]
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, _NoAnswer):
                raise answer
        if unanswered:
            active |= await self._from_view(unanswered, scope)
        return active

    async def _ask(self, client_id: str, scope: str) -> bool:
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
            log.warning("consent service did not answer", extra={"reason": type(exc).__name__})
            raise _NoAnswer from exc
        CONSENT_CHECKS.labels(scope, "active" if active else "inactive").inc()
        if self._ttl > 0:
            self._cache[key] = (now + self._ttl, active)
        return active

    async def _from_view(self, client_ids: list[str], scope: str) -> set[str]:
        if self._view is None or self._now is None or not self._view_current():
            CONSENT_CHECKS.labels(scope, "unknown").inc(len(client_ids))
            raise ConsentUnavailable(scope, self._retry_after_s)
        try:
            covered = await consent_view.active_clients(self._view, client_ids, scope, self._now())
        except (OSError, asyncpg.PostgresError) as exc:
            CONSENT_CHECKS.labels(scope, "unknown").inc(len(client_ids))
            raise ConsentUnavailable(scope, self._retry_after_s) from exc
        CONSENT_CHECKS.labels(scope, "view-active").inc(len(covered))
        CONSENT_CHECKS.labels(scope, "view-inactive").inc(len(client_ids) - len(covered))
        return covered
