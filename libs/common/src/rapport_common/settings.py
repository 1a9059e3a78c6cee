"""Settings shared by every service: one pydantic-settings class per service extends :class:`ServiceSettings`.

The names are the environment variables used by the embedded launcher, docker-compose and Kubernetes alike
(``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``...), so one configuration story covers all three.
"""

from __future__ import annotations

import sys
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rapport_common.kafka.connection import KafkaConnection, KafkaConnectionError, SaslMechanism, SecurityProtocol

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    service_name: str = "rapport"
    database_url: str = Field(description="postgresql://user@host:port/db of this service's own database")
    database_pool_min: int = Field(default=1, ge=1)
    database_pool_max: int = Field(default=10, ge=1)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = Field(
        default=True, description="on for Apache Kafka; off for the embedded Tansu broker (InitProducerId fails)"
    )
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="SASL_SSL on a broker with authentication (Apache Kafka with ACLs)"
    )
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = Field(default=None, description="this service's own broker principal")
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = Field(default=None, description="PEM file of the CA that signed the broker")
    kafka_ssl_certfile: str | None = Field(default=None, description="client certificate (mTLS), PEM")
    kafka_ssl_keyfile: str | None = Field(default=None, description="client key (mTLS), PEM")
    kafka_fetch_max_wait_ms: int = Field(default=10, ge=1, le=10_000, description="low for live alert latency")
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_max_batch: int = Field(default=500, ge=1, le=10_000)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 secret (embedded default)")
    jwt_jwks_url: str | None = Field(default=None, description="JWKS URL for RS256 tokens (production)")
    jwt_audience: str = "rapport"
    jwt_issuer: str = "rapport"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    otel_exporter_otlp_endpoint: str | None = None
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)

    def kafka_connection(self) -> KafkaConnection:
        """How this service's Kafka clients connect (one object for producer, consumers and readers)."""
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
        )

    def consumer_options(self) -> dict[str, Any]:
        """The settings every service's ``BatchConsumer`` takes from the environment, in one place (a consumer
        built field by field once missed ``KAFKA_MAX_BATCH``)."""
        return {
            "bootstrap_servers": self.kafka_connection(),
            "max_records": self.kafka_max_batch,
            "fetch_max_wait_ms": self.kafka_fetch_max_wait_ms,
            "session_timeout_ms": self.kafka_session_timeout_ms,
        }

    @model_validator(mode="after")
    def _kafka_security_fits(self) -> ServiceSettings:
        try:
            self.kafka_connection()
        except KafkaConnectionError as exc:
            raise ValueError(str(exc)) from None
        return self

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def load_settings(settings_cls: type[SettingsT]) -> SettingsT:
    """Read settings from the environment; on error exit with one line per bad variable, naming it."""
    try:
        return settings_cls()
    except ValidationError as exc:
        lines = [f"invalid configuration for {settings_cls.__name__}:"]
        for error in exc.errors(include_url=False):
            name = "_".join(str(part) for part in error["loc"]).upper()
            lines.append(f"  {name}: {error['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
