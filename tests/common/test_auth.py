"""JWT auth: valid tokens pass, expired / tampered / wrong-audience / wrong-issuer / unknown-role refused."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI, HTTPException

from rapport_common import auth
from rapport_common.auth import PrincipalDep, TokenVerifier, issue_token, require_roles
from rapport_common.http import install_http_conventions

SECRET = "test-secret-that-is-long-enough-for-hs256"


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(secret=SECRET, jwks_url=None, audience="rapport", issuer="rapport")
    install_http_conventions(app, "test")

    @app.get("/me")
    async def me(principal: PrincipalDep) -> dict[str, str]:
        return {"sub": principal.subject, "role": principal.role}

    @app.get("/compliance-only", dependencies=[Depends(require_roles("compliance"))])
    async def compliance_only() -> dict[str, bool]:
        return {"ok": True}

    return app


async def _get(app: FastAPI, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def test_valid_token_identifies_the_caller(app: FastAPI) -> None:
    response = await _get(app, "/me", issue_token(SECRET, subject="clin-1", role="clinician"))
    assert response.status_code == 200
    assert response.json() == {"sub": "clin-1", "role": "clinician"}


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "u",
        "role": "clinician",
        "aud": "rapport",
        "iss": "rapport",
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return claims


def _signed(**overrides: object) -> str:
    return jwt.encode(_claims(**overrides), SECRET, algorithm="HS256")


BAD_TOKENS: dict[str, tuple[Callable[[], str | None], str]] = {
    "missing": (lambda: None, "missing bearer token"),
    "expired": (lambda: _signed(exp=int(time.time()) - 10), "expired"),
    "wrong-audience": (lambda: _signed(aud="someone-else"), "audience"),
    "wrong-issuer": (lambda: _signed(iss="evil"), "issuer"),
    "unknown-role": (lambda: _signed(role="admin"), "unknown role"),
    "wrong-key": (
        lambda: jwt.encode(_claims(), "another-secret-that-is-long-enough-xx", algorithm="HS256"),
        "signature",
    ),
    "tampered": (lambda: _signed()[:-3] + "abc", "invalid token"),
    "no-exp": (
        lambda: jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, SECRET, algorithm="HS256"),
        "exp",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_refused_with_401(app: FastAPI, case: str) -> None:
    """Tokens are made when the test runs (not at collection), so expiry is exact."""
    make_token, fragment = BAD_TOKENS[case]
    response = await _get(app, "/me", make_token())
    assert response.status_code == 401
    assert fragment.lower() in response.json()["detail"].lower()


async def test_none_algorithm_is_refused(app: FastAPI) -> None:
    unsigned = jwt.encode(_claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    assert (await _get(app, "/me", unsigned)).status_code == 401


async def test_wrong_role_is_403(app: FastAPI) -> None:
    clinician = issue_token(SECRET, subject="clin-1", role="clinician")
    compliance = issue_token(SECRET, subject="aud-1", role="compliance")
    assert (await _get(app, "/compliance-only", clinician)).status_code == 403
    assert (await _get(app, "/compliance-only", compliance)).status_code == 200


def test_unknown_role_in_a_rule_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        require_roles("admin")


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    """The auth module's wall clock, moved by hand (tokens are issued with the real one first)."""
    fake = _Clock()
    monkeypatch.setattr(auth.time, "time", fake.time)
    return fake


def test_a_verified_token_is_remembered_until_its_expiry_and_never_a_failure(clock: _Clock) -> None:
    verifier = TokenVerifier(secret=SECRET, jwks_url=None, audience="rapport", issuer="rapport", remember_s=600)
    token = jwt.encode(_claims(exp=int(clock.now) + 30), SECRET, algorithm="HS256")
    assert verifier.remembered(token) is None
    principal = verifier.verify(token)
    assert verifier.remembered(token) == principal
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(HTTPException):
        verifier.verify(tampered)
    assert verifier.remembered(tampered) is None
    clock.now += 31  # past exp
    assert verifier.remembered(token) is None


def test_a_remembered_token_is_forgotten_after_the_remember_window(clock: _Clock) -> None:
    verifier = TokenVerifier(secret=SECRET, jwks_url=None, audience="rapport", issuer="rapport", remember_s=60)
    token = jwt.encode(_claims(exp=int(clock.now) + 3600), SECRET, algorithm="HS256")
    verifier.verify(token)
    clock.now += 59
    assert verifier.remembered(token) is not None
    clock.now += 2
    assert verifier.remembered(token) is None
