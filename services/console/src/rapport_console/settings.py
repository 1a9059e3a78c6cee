"""Settings of the console (environment variables). The console has no database and no broker: it serves
pages and forwards API calls to the services that own the data."""

from __future__ import annotations

import ipaddress
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    service_name: str = "console"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 secret (embedded default)")
    jwt_jwks_url: str | None = Field(default=None, description="JWKS URL for RS256 tokens (production)")
    jwt_audience: str = "rapport"
    jwt_issuer: str = "rapport"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    intake_service_url: str = "http://127.0.0.1:8100"
    session_service_url: str = "http://127.0.0.1:8101"
    consent_service_url: str = "http://127.0.0.1:8102"
    alliance_monitor_url: str = "http://127.0.0.1:8103"

    #: demo sign-in (lists demo users, issues HS256 tokens): the embedded launcher turns it on; off by default
    console_demo_login: bool = False
    #: time allowed for an upstream to answer (headers); streams (SSE) have no read timeout after that
    console_upstream_timeout_s: float = Field(default=10.0, gt=0, le=120)
    #: time allowed for each service's /metrics or /healthz during an ops summary or readiness check
    console_scrape_timeout_s: float = Field(default=2.0, gt=0, le=30)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("intake_service_url", "session_service_url", "consent_service_url", "alliance_monitor_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _demo_login_on_loopback_only(self) -> Self:
        """Demo sign-in hands an operator's or a supervisor's token to anyone who asks: never off this machine."""
        if self.console_demo_login and not is_loopback(self.http_host):
            raise ValueError(
                f"CONSOLE_DEMO_LOGIN is on and HTTP_HOST is {self.http_host!r} (the launcher's --host), which is not "
                "a loopback address: demo sign-in gives anyone who can reach the console a token for the asking; "
                "set HTTP_HOST to 127.0.0.1 (or ::1, localhost) or turn CONSOLE_DEMO_LOGIN off"
            )
        return self

    def upstreams(self) -> dict[str, str]:
        """The proxy's path prefix (``/api/<name>/...``) -> the owning service's base URL."""
        return {
            "intake": self.intake_service_url,
            "session": self.session_service_url,
            "consent": self.consent_service_url,
            "alliance": self.alliance_monitor_url,
        }

    def service_urls(self) -> dict[str, str]:
        """Service name -> base URL, for health checks and metrics scrapes."""
        return {
            "intake": self.intake_service_url,
            "session": self.session_service_url,
            "consent": self.consent_service_url,
            "alliance-monitor": self.alliance_monitor_url,
        }


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP (127.0.0.0/8, ::1); ``0.0.0.0``, ``::`` and any other name are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
