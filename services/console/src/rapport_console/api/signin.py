"""Sign-in: demo users and HS256 tokens in the embedded default; ``/auth/me`` checks any bearer token.

Tokens are real JWTs: the services verify them exactly as they verify a production identity provider's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from rapport_common.auth import PrincipalDep, issue_token
from rapport_console.api.deps import SettingsDep
from rapport_console.demo_users import BY_ID, DEMO_USERS, HOME
from rapport_console.settings import ConsoleSettings

router = APIRouter(prefix="/auth", tags=["sign-in"])

DEMO_TOKEN_TTL_S = 8 * 3600


class DemoLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=100)


def _demo_on(settings: ConsoleSettings) -> str:
    if not settings.console_demo_login:
        raise HTTPException(404, "demo sign-in is off (CONSOLE_DEMO_LOGIN)")
    if settings.jwt_secret is None:
        raise HTTPException(404, "demo sign-in needs JWT_SECRET (HS256)")
    return settings.jwt_secret.get_secret_value()


@router.get("/config")
async def config(settings: SettingsDep) -> dict[str, Any]:
    """What the sign-in page offers: the demo users when demo sign-in is on, else only a token field."""
    demo = settings.console_demo_login and settings.jwt_secret is not None
    users = [{"user_id": u.user_id, "role": u.role, "label": u.label} for u in DEMO_USERS] if demo else []
    return {"demo_login": demo, "demo_users": users}


@router.post("/demo-login")
async def demo_login(body: DemoLogin, settings: SettingsDep) -> dict[str, Any]:
    secret = _demo_on(settings)
    user = BY_ID.get(body.user_id)
    if user is None:
        raise HTTPException(422, "body.user_id: not a demo user")
    token = issue_token(
        secret,
        subject=user.user_id,
        role=user.role,
        ttl_s=DEMO_TOKEN_TTL_S,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        name=user.label,
    )
    return {"token": token, "user_id": user.user_id, "role": user.role, "home": user.home}


@router.get("/me")
async def me(principal: PrincipalDep) -> dict[str, Any]:
    """The verified caller of a token (any issuer the services trust) and the page their role works on."""
    return {
        "user_id": principal.subject,
        "role": principal.role,
        "name": principal.name,
        "home": HOME.get(principal.role),
    }
