"""JWT auth: valid tokens pass, expired / tampered / wrong-audience / wrong-issuer / unknown-role refused."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

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
