"""How every Kafka client of a service connects: bootstrap servers plus authentication and TLS.

One :class:`KafkaConnection` is built from the service's settings (``KAFKA_SECURITY_PROTOCOL``,
``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD``, ``KAFKA_SSL_CAFILE``,
``KAFKA_SSL_CERTFILE``, ``KAFKA_SSL_KEYFILE``) and handed to the producer, the consumers and any short-lived
reader, so no client can be built that connects differently from the others.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Literal

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaConnectionError(ValueError):
    """The security settings do not fit together; the message names the setting."""


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        sasl_complete = self.sasl_mechanism and self.sasl_username and self.sasl_password
        if self.security_protocol.startswith("SASL_") and not sasl_complete:
            raise KafkaConnectionError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if self.uses_tls and not self.ssl_cafile:
            raise KafkaConnectionError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SSL_CAFILE (the broker's CA)"
            )
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise KafkaConnectionError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile and self.ssl_keyfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``/``AIOKafkaConsumer``/``AIOKafkaAdminClient``."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers}
        if self.security_protocol == "PLAINTEXT":
            return options
        options["security_protocol"] = self.security_protocol
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options

    def librdkafka_options(self) -> dict[str, str | int | float | bool]:
        """The same connection for confluent-kafka (librdkafka property names)."""
        options: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            options |= {
                "sasl.mechanism": self.sasl_mechanism,
                "sasl.username": self.sasl_username or "",
                "sasl.password": self.sasl_password or "",
            }
        if self.ssl_cafile:
            options["ssl.ca.location"] = self.ssl_cafile
        if self.ssl_certfile and self.ssl_keyfile:
            options |= {"ssl.certificate.location": self.ssl_certfile, "ssl.key.location": self.ssl_keyfile}
        return options

    def environment(self) -> dict[str, str]:
        """The ``KAFKA_*`` variables that describe this connection (what a child process reads)."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers, "KAFKA_SECURITY_PROTOCOL": self.security_protocol}
        for name, value in (
            ("KAFKA_SASL_MECHANISM", self.sasl_mechanism),
            ("KAFKA_SASL_USERNAME", self.sasl_username),
            ("KAFKA_SASL_PASSWORD", self.sasl_password),
            ("KAFKA_SSL_CAFILE", self.ssl_cafile),
            ("KAFKA_SSL_CERTFILE", self.ssl_certfile),
            ("KAFKA_SSL_KEYFILE", self.ssl_keyfile),
        ):
            if value:
                env[name] = value
        return env

    @classmethod
    def from_environment(cls, env: dict[str, str]) -> KafkaConnection:
        """Read the ``KAFKA_*`` variables of :meth:`environment` (tools and tests outside a service)."""
        return cls(
            bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),  # type: ignore[arg-type]
            sasl_mechanism=env.get("KAFKA_SASL_MECHANISM") or None,  # type: ignore[arg-type]
            sasl_username=env.get("KAFKA_SASL_USERNAME") or None,
            sasl_password=env.get("KAFKA_SASL_PASSWORD") or None,
            ssl_cafile=env.get("KAFKA_SSL_CAFILE") or None,
            ssl_certfile=env.get("KAFKA_SSL_CERTFILE") or None,
            ssl_keyfile=env.get("KAFKA_SSL_KEYFILE") or None,
        )

    def as_user(self, username: str, password: str) -> KafkaConnection:
        """The same broker and TLS, another SASL principal."""
        return KafkaConnection(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism or "SCRAM-SHA-512",
            sasl_username=username,
            sasl_password=password,
            ssl_cafile=self.ssl_cafile,
        )


def as_connection(kafka: str | KafkaConnection) -> KafkaConnection:
    """A plain bootstrap string (tests, benchmarks on an open broker) is a PLAINTEXT connection."""
    return kafka if isinstance(kafka, KafkaConnection) else KafkaConnection(bootstrap_servers=kafka)
