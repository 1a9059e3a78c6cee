"""JWT bearer auth with Rapport's roles: HS256 with a shared secret (embedded default) or RS256 via JWKS.

A token carries ``sub`` (the user id) and ``role``; clinicians' ``sub`` is their clinician id, clients'
their client id. Audience and issuer are checked; expired, tampered and wrong-audience tokens are refused
with 401. Role checks (403) are FastAPI dependencies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import jwt
from fastapi import Depends, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

Role = Literal["client", "clinician", "supervisor", "compliance", "operator", "service"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    name: str | None = None
    #: the token's ``exp`` (Unix seconds): what a long-lived response (an SSE stream) must not outlive;
    #: not part of who the caller is, so two tokens of one person are equal principals
    expires_at: float | None = field(default=None, compare=False)

    def is_role(self, *roles: Role) -> bool:
        return self.role in roles


class TokenVerifier:
    """Verifies bearer tokens and remembers the verified ones briefly.

    Callers reuse a token for many requests (service-to-service calls, a clinician's page), and signature
    checking was about a tenth of a consent check's CPU. A remembered token is the exact same string (so
    the same signature), still inside its ``exp``, and at most ``remember_s`` old (bounds how long a key
    withdrawn from the JWKS keeps working); failures are never remembered.
    """

    MAX_REMEMBERED = 4096

    def __init__(
        self, *, secret: str | None, jwks_url: str | None, audience: str, issuer: str, remember_s: float = 60.0
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("JWT_SECRET or JWT_JWKS_URL must be set")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._audience = audience
        self._issuer = issuer
        self._remember_s = remember_s
        self._verified: dict[str, tuple[float, Principal]] = {}

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token verified recently and not yet expired, else None."""
        entry = self._verified.get(token)
        if entry is None:
            return None
        if entry[0] <= time.time():
            del self._verified[token]
            return None
        return entry[1]

    @property
    def may_block(self) -> bool:
        """True when verifying may fetch keys over the network (RS256 via JWKS)."""
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key, algorithms = self._secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
            ) from None
        role = claims.get("role")
        if role not in ROLES:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid token: unknown role")
        principal = Principal(
            subject=str(claims["sub"]), role=role, name=claims.get("name"), expires_at=float(claims["exp"])
        )
        if len(self._verified) >= self.MAX_REMEMBERED:
            self._verified.clear()
        self._verified[token] = (min(float(claims["exp"]), time.time() + self._remember_s), principal)
        return principal


def issue_token(
    secret: str,
    *,
    subject: str,
    role: str,
    ttl_s: int = 3600,
    audience: str = "rapport",
    issuer: str = "rapport",
    name: str | None = None,
) -> str:
    """An HS256 token (embedded default, demo users, tests and service-to-service calls)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role,
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_s,
    }
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller (401 without a valid bearer token).

    ``async`` so that HS256 tokens are verified on the event loop (a plain ``def`` dependency costs a worker
    thread hand-off per request); RS256 may fetch the JWKS over the network, so it runs in a thread.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    if (principal := verifier.remembered(token)) is not None:
        return principal
    if verifier.may_block:
        return await run_in_threadpool(verifier.verify, token)
    return verifier.verify(token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """FastAPI dependency factory: 403 unless the caller has one of ``roles``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role!r} may not do this")
        return principal

    check.allowed_roles = roles  # type: ignore[attr-defined]  # read by the authorisation-matrix tests
    return check
