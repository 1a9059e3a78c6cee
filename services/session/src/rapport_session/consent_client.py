"""Is a consent scope active for a client now? The local consent view, the consent service, a brief cache;
fails closed.

The consent service owns consent. This service learns it two ways:

- the local view (``store.consent_view``), fed by the consent service's own ``consent.events``. It answers
  for many clients in one indexed query, which keeps the hot paths (telemetry batches, messages) off the
  network. It is used only while current: its consumer caught up with the topic within
  ``consent_view_max_age_s`` (default 10 s, the same as the cache TTL, so a revocation reaches a decision no
  later than through a cached answer);
- the consent service's check endpoint (``GET {url}{path}?client_id=X&scope=S`` with a ``service`` token,
  answering ``200 {"active": bool, ...}``), asked for every client the view does not show covered (a grant
  may still be on its way through the topic) or when the view is not current; answers are cached for
  ``consent_cache_ttl_s``, failures are not cached.

When the consent service does not answer (timeout, connection refused, 5xx, malformed answer): a current
view's "not covered" stands, so an outage does not stop clients already known to be covered and never
covers anyone new. With no current view either, nothing is known: :class:`ConsentUnavailable`, which the
API answers with 503 and ``Retry-After`` (never "no consent", which would be a claim about the client).
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
        """See :meth:`active_clients`. Raises :class:`ConsentUnavailable`."""
        return client_id in await self.active_clients([client_id], scope)

    async def active_clients(self, client_ids: Iterable[str], scope: str) -> set[str]:
        """The clients of ``client_ids`` for whom ``scope`` is active: cache, then one view query, then the
        consent service (concurrently) for the rest. Raises :class:`ConsentUnavailable`."""
        ids = list(dict.fromkeys(client_ids))
        active: set[str] = set()
        rest: list[str] = []
        now = time.monotonic()
        for client_id in ids:
            cached = self._cache.get((client_id, scope))
            if cached is not None and cached[0] > now:
                CONSENT_CHECKS.labels(scope, "cached").inc()
                if cached[1]:
                    active.add(client_id)
            else:
                rest.append(client_id)
        if not rest:
            return active
        view_current = self._view is not None and self._now is not None and self._view_current()
        if view_current:
            covered = await self._from_view(rest, scope)
            CONSENT_CHECKS.labels(scope, "view-active").inc(len(covered))
            active |= covered
            rest = [client_id for client_id in rest if client_id not in covered]
        answers = await asyncio.gather(*(self._ask(client_id, scope) for client_id in rest), return_exceptions=True)
        for client_id, answer in zip(rest, answers, strict=True):
            if answer is True:
                active.add(client_id)
            elif isinstance(answer, _NoAnswer):
                if not view_current:  # nobody current can say
                    CONSENT_CHECKS.labels(scope, "unknown").inc()
                    raise ConsentUnavailable(scope, self._retry_after_s)
                CONSENT_CHECKS.labels(scope, "view-inactive").inc()
            elif isinstance(answer, BaseException):
                raise answer
        return active

    async def _ask(self, client_id: str, scope: str) -> bool:
        key = (client_id, scope)
        now = time.monotonic()
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
        assert self._view is not None and self._now is not None
        try:
            return await consent_view.active_clients(self._view, client_ids, scope, self._now())
        except (OSError, asyncpg.PostgresError) as exc:
            CONSENT_CHECKS.labels(scope, "unknown").inc(len(client_ids))
            raise ConsentUnavailable(scope, self._retry_after_s) from exc
