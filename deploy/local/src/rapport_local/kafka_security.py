"""Broker security for the local Apache Kafka: a test CA made at start, SCRAM principals, and the ACLs.

- TLS: a CA and one node certificate (SAN 127.0.0.1, localhost) generated with ``cryptography`` into
  ``<data>/kafka/tls`` on first use; the broker reads PEM key and trust stores (no keytool needed).
- Clients authenticate with SASL/SCRAM-SHA-512 over TLS, one principal per service; the credentials are
  written into the metadata log when the storage is formatted (``--add-scram``), so they exist before the
  first client connects. Passwords are random per data directory (``tls/credentials.json``, mode 0600).
- Nodes reach each other (replication, the controller quorum) over mutual TLS with the node certificate,
  whose principal ``User:CN=rapport-kafka-node`` is a super user; so is ``admin`` (topics, ACLs, tests).
- ACLs (:data:`SERVICE_GRANTS`): a service writes only its own topics and the dead-letter topics of what
  it consumes, reads only what it consumes (and its own topics, for the outbox relay's reconciliation),
  and joins only consumer groups named after itself. Nothing else is allowed
  (``allow.everyone.if.no.acl.found=false``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AclBinding

from rapport_common.events import TOPICS
from rapport_common.events.catalog import dlq_topic
from rapport_common.kafka.connection import KafkaConnection, SaslMechanism

NODE_CN = "rapport-kafka-node"
MECHANISM: SaslMechanism = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Grant:
    """What one service principal may do on the broker."""

    writes: tuple[str, ...]
    reads: tuple[str, ...]
    #: consumer groups it may join: every group whose name starts with this prefix
    group_prefix: str


def _grant(service: str, owns: tuple[str, ...], consumes: tuple[str, ...]) -> Grant:
    return Grant(
        writes=(*owns, *(dlq_topic(topic) for topic in consumes)),
        reads=(*consumes, *owns),
        group_prefix=service,
    )


#: the event contract's topic owners (EVENTS.md) and each service's inputs
SERVICE_GRANTS: dict[str, Grant] = {
    "intake": _grant("intake", ("intake.events", "feedback.events"), ()),
    "session": _grant("session", ("session.events", "feedback.events"), ("intake.events", "consent.events")),
    "consent": _grant("consent", ("consent.events",), ("intake.events",)),
    "alliance-monitor": _grant(
        "alliance-monitor",
        ("alliance.alerts",),
        ("intake.events", "consent.events", "session.events", "feedback.events"),
    ),
}
assert {t for g in SERVICE_GRANTS.values() for t in g.writes} <= {*TOPICS, *(dlq_topic(t) for t in TOPICS)}


@dataclass
class BrokerSecurity:
    """TLS material and SCRAM credentials under ``directory``; :meth:`prepare` makes what is missing."""

    directory: Path
    admin_user: str = "admin"
    services: tuple[str, ...] = tuple(SERVICE_GRANTS)
    passwords: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).absolute()

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def node_keystore(self) -> Path:
        return self.directory / "node-keystore.pem"

    @property
    def users(self) -> tuple[str, ...]:
        return (self.admin_user, *self.services)

    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        credentials = self.directory / "credentials.json"
        if credentials.exists():
            self.passwords = json.loads(credentials.read_text())
        missing = [user for user in self.users if user not in self.passwords]
        if missing:
            self.passwords |= {user: secrets.token_urlsafe(24) for user in missing}
            _write_private(credentials, json.dumps(self.passwords, indent=2))
        if not (self.ca_file.exists() and self.node_keystore.exists()):
            _make_tls(self.ca_file, self.node_keystore)

    def connection(self, bootstrap_servers: str, user: str) -> KafkaConnection:
        return KafkaConnection(
            bootstrap_servers=bootstrap_servers,
            security_protocol="SASL_SSL",
            sasl_mechanism=MECHANISM,
            sasl_username=user,
            sasl_password=self.passwords[user],
            ssl_cafile=str(self.ca_file),
        )

    def format_arguments(self) -> list[str]:
        """``--add-scram`` for every principal (credentials in the metadata log from the start)."""
        args = []
        for user in self.users:
            args += ["--add-scram", f"{MECHANISM}=[name={user},password={self.passwords[user]}]"]
        return args

    def server_properties(self) -> dict[str, str]:
        store = {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.node_keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca_file),
            "ssl.endpoint.identification.algorithm": "https",
        }
        return {
            **store,
            "sasl.enabled.mechanisms": MECHANISM,
            "listener.name.client.sasl.enabled.mechanisms": MECHANISM,
            "listener.name.client.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.internal.ssl.client.auth": "required",
            "listener.name.controller.ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{self.admin_user};User:{NODE_CN}",
        }

    async def apply_acls(self, admin: KafkaConnection) -> None:
        """Create every service's ACLs (idempotent: creating an existing binding is a no-op)."""
        await asyncio.to_thread(_create_acls, admin, {s: SERVICE_GRANTS[s] for s in self.services})


def acl_bindings(grants: dict[str, Grant]) -> list[AclBinding]:
    """The confluent-kafka ``AclBinding`` list for ``grants``."""
    from confluent_kafka.admin import (
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    wanted: dict[tuple[object, ...], AclBinding] = {}  # a topic both read and written is described once

    def allow(service: str, kind: ResourceType, name: str, pattern: ResourcePatternType, op: AclOperation) -> None:
        key = (kind, name, pattern, service, op)
        wanted[key] = AclBinding(kind, name, pattern, f"User:{service}", "*", op, AclPermissionType.ALLOW)

    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    for service, grant in grants.items():
        for topic in grant.writes:
            allow(service, ResourceType.TOPIC, topic, literal, AclOperation.WRITE)
            allow(service, ResourceType.TOPIC, topic, literal, AclOperation.DESCRIBE)
        for topic in grant.reads:
            allow(service, ResourceType.TOPIC, topic, literal, AclOperation.READ)
            allow(service, ResourceType.TOPIC, topic, literal, AclOperation.DESCRIBE)
        allow(service, ResourceType.GROUP, grant.group_prefix, prefixed, AclOperation.READ)
        allow(service, ResourceType.GROUP, grant.group_prefix, prefixed, AclOperation.DESCRIBE)
    return list(wanted.values())


def _create_acls(admin: KafkaConnection, grants: dict[str, Grant]) -> None:
    from confluent_kafka.admin import AdminClient

    client = AdminClient(admin.librdkafka_options())
    futures = client.create_acls(acl_bindings(grants), request_timeout=30)
    for future in futures.values():
        future.result(timeout=60)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _make_tls(ca_file: Path, node_keystore: Path) -> None:
    """A CA (valid 30 days) and a node certificate signed by it, for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rapport local test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    node_key = ec.generate_private_key(ec.SECP256R1())
    node = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NODE_CN)]))
        .issuer_name(ca_name)
        .public_key(node_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ca_file.write_bytes(ca.public_bytes(pem))
    _write_private(node_keystore, (key_pem + node.public_bytes(pem) + ca.public_bytes(pem)).decode())
