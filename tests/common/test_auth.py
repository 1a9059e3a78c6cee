"""JWT auth: valid tokens pass, expired / tampered / wrong-audience / wrong-issuer / unknown-role refused."""

from __future__ import annotations

import time

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


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        (None, "missing bearer token"),
        (jwt.encode(_claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256"), "expired"),
        (jwt.encode(_claims(aud="someone-else"), SECRET, algorithm="HS256"), "audience"),
        (jwt.encode(_claims(iss="evil"), SECRET, algorithm="HS256"), "issuer"),
        (jwt.encode(_claims(role="admin"), SECRET, algorithm="HS256"), "unknown role"),
        (jwt.encode(_claims(), "another-secret-that-is-long-enough-xx", algorithm="HS256"), "signature"),
        (jwt.encode(_claims(), SECRET, algorithm="HS256")[:-3] + "abc", "invalid token"),
        (jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, SECRET, algorithm="HS256"), "exp"),
    ],
    ids=["missing", "expired", "wrong-audience", "wrong-issuer", "unknown-role", "wrong-key", "tampered", "no-exp"],
)
async def test_bad_tokens_are_refused_with_401(app: FastAPI, token: str | None, fragment: str) -> None:
    response = await _get(app, "/me", token)
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
