"""Topic-init job of docker-compose and Kubernetes: the contract topics, and on a secured cluster the services'
broker principals and their ACLs.

Topics: the contract topics and their dead-letter topics. The list comes from the code
(``rapport_common.events.TOPICS`` plus ``<topic>.dlq``), never from a copy, so a topic added to the contract is
created by the next deployment. Idempotent: existing topics are left as they are (partition counts decide key
placement, so changing them is a deliberate operation, not a side effect of a deployment); a topic with fewer
partitions or replicas than asked is reported, and makes the job fail only with ``TOPIC_INIT_STRICT=true``.

Security (when the job connects with SASL, as the ``admin`` super user): for every service of
:data:`SERVICE_GRANTS`

- its SCRAM-SHA-512 credential, user name = service name, password from ``<SERVICE>_KAFKA_PASSWORD``
  (``INTAKE_KAFKA_PASSWORD``, ..., ``ALLIANCE_MONITOR_KAFKA_PASSWORD``: the same secret the service reads as
  ``KAFKA_SASL_PASSWORD``). Set on every run, so changing a password and re-running the job rotates it;
- its ACLs: write its own topics and the dead-letter topics of what it consumes, read what it consumes and its
  own topics (the outbox relay's reconciliation reads them back), join consumer groups whose names start with
  the service name. ACLs of these principals that the table no longer grants are deleted, so the broker holds
  exactly the table. Nothing else is allowed (the brokers run ``allow.everyone.if.no.acl.found=false``).

The grant table is a copy of ``rapport_local.kafka_security.SERVICE_GRANTS`` (the embedded launcher's Apache
Kafka applies that one): this file is built into its own image, without deploy/local; tests/deploy asserts that
the two tables and the ACL bindings made from them are equal.

Environment: the connection settings of the services (``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_SECURITY_PROTOCOL``,
``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD``, ``KAFKA_SSL_CAFILE``,
``KAFKA_SSL_CERTFILE``, ``KAFKA_SSL_KEYFILE``), here for the admin principal; ``<SERVICE>_KAFKA_PASSWORD`` for
each service; ``TOPIC_INIT_SECURITY`` (``true`` by default with SASL; ``false`` leaves users and ACLs to someone
else, e.g. Strimzi's User Operator); ``TOPIC_PARTITIONS`` (6), ``TOPIC_REPLICATION_FACTOR`` (1; 3 with the
three-broker variant), ``TOPIC_MIN_INSYNC_REPLICAS`` (unset: broker default), ``TOPIC_INIT_TIMEOUT_S`` (120: how
long to wait for the brokers), ``TOPIC_INIT_STRICT``.

Run: ``python topic_init.py`` (exit 0 when every topic, credential and ACL is in place, 1 otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from rapport_common.events import TOPICS
from rapport_common.events.catalog import dlq_topic
from rapport_common.kafka.connection import KafkaConnection, as_connection

_TOPIC_ALREADY_EXISTS = 36

MECHANISM = "SCRAM-SHA-512"
#: Kafka's minimum (and kafka-configs.sh's default) for SCRAM-SHA-512
SCRAM_ITERATIONS = 4096
#: the passwords the job sets: what ``kafka-storage format --add-scram`` can parse, hard to guess
_PASSWORD = re.compile(r"[A-Za-z0-9._~-]{16,}")


@dataclass(frozen=True)
class TopicPlan:
    """What the job asks of the cluster."""

    partitions: int = 6
    replication_factor: int = 1
    min_insync_replicas: int | None = None

    def configs(self) -> dict[str, str]:
        if self.min_insync_replicas is None:
            return {}
        return {"min.insync.replicas": str(self.min_insync_replicas)}


@dataclass(frozen=True)
class TopicState:
    name: str
    partitions: int
    replication_factor: int
    created: bool


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


#: the event contract's topic owners (EVENTS.md) and each service's inputs; equal to rapport_local's table
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


@dataclass(frozen=True)
class SecurityState:
    users: tuple[str, ...]
    acls_created: int
    acls_deleted: int


def planned_topics() -> list[str]:
    """The five contract topics followed by their dead-letter topics."""
    return [*TOPICS, *(dlq_topic(topic) for topic in TOPICS)]


def plan_from_env(env: Mapping[str, str]) -> TopicPlan:
    min_isr = env.get("TOPIC_MIN_INSYNC_REPLICAS", "").strip()
    plan = TopicPlan(
        partitions=int(env.get("TOPIC_PARTITIONS", "6")),
        replication_factor=int(env.get("TOPIC_REPLICATION_FACTOR", "1")),
        min_insync_replicas=int(min_isr) if min_isr else None,
    )
    if plan.partitions < 1 or plan.replication_factor < 1:
        raise ValueError("TOPIC_PARTITIONS and TOPIC_REPLICATION_FACTOR must be >= 1")
    if plan.min_insync_replicas is not None and not 1 <= plan.min_insync_replicas <= plan.replication_factor:
        raise ValueError("TOPIC_MIN_INSYNC_REPLICAS must be between 1 and TOPIC_REPLICATION_FACTOR")
    return plan


def connection_from_env(env: Mapping[str, str]) -> KafkaConnection:
    """The admin connection: the services' ``KAFKA_*`` settings names, bootstrap ``kafka:9092`` by default."""
    return KafkaConnection.from_environment({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", **env})


def manages_security(env: Mapping[str, str], connection: KafkaConnection) -> bool:
    """Whether this run sets the credentials and ACLs: by default exactly when it logs in with SASL."""
    sasl = connection.security_protocol.startswith("SASL_")
    wanted = env.get("TOPIC_INIT_SECURITY", "true" if sasl else "false").strip().lower() in ("1", "true", "yes")
    if wanted and not sasl:
        raise ValueError("TOPIC_INIT_SECURITY=true needs KAFKA_SECURITY_PROTOCOL=SASL_SSL (the admin principal)")
    return wanted


def password_variable(service: str) -> str:
    """``alliance-monitor`` -> ``ALLIANCE_MONITOR_KAFKA_PASSWORD``."""
    return service.replace("-", "_").upper() + "_KAFKA_PASSWORD"


def service_passwords(env: Mapping[str, str], services: Sequence[str] = tuple(SERVICE_GRANTS)) -> dict[str, str]:
    """Every service's password from the environment; a missing, short or reused one is an error."""
    missing = [password_variable(s) for s in services if not env.get(password_variable(s))]
    if missing:
        raise ValueError(f"not set: {', '.join(missing)}")
    passwords = {s: env[password_variable(s)] for s in services}
    weak = [password_variable(s) for s, p in passwords.items() if not _PASSWORD.fullmatch(p)]
    if weak:
        raise ValueError(f"{', '.join(weak)}: use at least 16 characters of A-Z a-z 0-9 . _ ~ - (openssl rand -hex 24)")
    if len(set(passwords.values())) < len(passwords):
        raise ValueError("every service needs its own Kafka password: two of them are equal")
    return passwords


async def _connect(connection: KafkaConnection, deadline: float) -> AIOKafkaAdminClient:
    """An admin client, retrying while the brokers start (compose starts us as soon as they are healthy)."""
    while True:
        admin = AIOKafkaAdminClient(**connection.aiokafka_options(), request_timeout_ms=15_000)
        try:
            await admin.start()
            return admin
        except (KafkaError, OSError) as exc:
            with contextlib.suppress(Exception):
                await admin.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"brokers at {connection.bootstrap_servers} did not answer: {exc!r}") from exc
            print(
                f"topic-init: waiting for brokers at {connection.bootstrap_servers} ({exc.__class__.__name__})",
                flush=True,
            )
            await asyncio.sleep(2)


async def ensure_topics(
    kafka: str | KafkaConnection, names: Sequence[str], plan: TopicPlan, *, timeout_s: float = 120.0
) -> list[TopicState]:
    """Create the missing topics of ``names`` and describe all of them once the metadata shows them."""
    connection = as_connection(kafka)
    deadline = time.monotonic() + timeout_s
    admin = await _connect(connection, deadline)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(name, plan.partitions, plan.replication_factor, topic_configs=plan.configs())
                    for name in missing
                ],
                timeout_ms=30_000,
            )
            for entry in getattr(response, "topic_errors", []):
                topic, code = entry[0], entry[1]
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    message = entry[2] if len(entry) > 2 else ""
                    raise RuntimeError(f"cannot create topic {topic!r}: error {code} {message or ''}".strip())
        while True:
            listed = set(await admin.list_topics())
            if all(name in listed for name in names):
                described = await admin.describe_topics(list(names))
                by_name = {d["topic"]: d for d in described if d.get("error_code", 0) == 0 and d.get("partitions")}
                if len(by_name) == len(names):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not visible in metadata after {timeout_s:.0f}s: {list(names)}")
            await asyncio.sleep(0.5)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    states = []
    for name in names:
        partitions = by_name[name]["partitions"]
        replicas = min(len(p.get("replicas", ())) for p in partitions)
        states.append(TopicState(name, len(partitions), replicas, created=name in missing))
    return states


def shortfalls(states: Sequence[TopicState], plan: TopicPlan) -> list[str]:
    """Topics that exist with fewer partitions or replicas than the plan asks."""
    return [
        f"{s.name}: {s.partitions} partitions x {s.replication_factor} replicas "
        f"(asked {plan.partitions} x {plan.replication_factor})"
        for s in states
        if s.partitions < plan.partitions or s.replication_factor < plan.replication_factor
    ]


# --- security: SCRAM credentials and ACLs (confluent-kafka's AdminClient; aiokafka has neither) ----------------


def acl_bindings(grants: Mapping[str, Grant]) -> list[Any]:
    """The confluent-kafka ``AclBinding`` list for ``grants`` (each binding once)."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    wanted: dict[tuple[object, ...], Any] = {}  # a topic both read and written is described once

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


def ensure_security(
    connection: KafkaConnection,
    passwords: Mapping[str, str],
    grants: Mapping[str, Grant] = SERVICE_GRANTS,
    *,
    timeout_s: float = 60.0,
) -> SecurityState:
    """Set every service's SCRAM credential, create its ACLs and delete the ACLs of its principal that
    ``grants`` does not hold (idempotent: a second run creates and deletes nothing).

    Returns once the broker it asks shows the credentials and exactly the granted ACLs: a broker applies
    metadata changes a while after the controller accepted them (ACLs created on a freshly started 4.1.1 broker
    were invisible to DescribeAcls for a few seconds, measured here), and the services start as soon as this
    job has exited. The ACLs are written after the credentials into the same ordered metadata log, so a broker
    that shows the ACLs has applied the credentials too."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    unknown = sorted(set(passwords) - set(grants))
    if unknown:
        raise ValueError(f"passwords for principals without grants: {unknown}")
    deadline = time.monotonic() + timeout_s
    admin = AdminClient(connection.librdkafka_options())
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts = [UserScramCredentialUpsertion(user, info, password.encode()) for user, password in passwords.items()]
    for future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout_s).values():
        future.result(timeout=timeout_s)

    def principal_acls() -> set[Any]:
        found: set[Any] = set()
        for service in grants:
            acl_filter = AclBindingFilter(
                ResourceType.ANY,
                None,
                ResourcePatternType.ANY,
                f"User:{service}",
                None,
                AclOperation.ANY,
                AclPermissionType.ANY,
            )
            found |= set(admin.describe_acls(acl_filter, request_timeout=timeout_s).result(timeout=timeout_s))
        return found

    wanted = set(acl_bindings(grants))
    existing = principal_acls()
    missing = [binding for binding in acl_bindings(grants) if binding not in existing]
    stale = list(existing - wanted)
    if missing:
        for future in admin.create_acls(missing, request_timeout=timeout_s).values():
            future.result(timeout=timeout_s)
    if stale:
        filters = [
            AclBindingFilter(
                b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
            )
            for b in stale
        ]
        for future in admin.delete_acls(filters, request_timeout=timeout_s).values():
            future.result(timeout=timeout_s)

    # wait until the broker applies it: every credential has a SCRAM-SHA-512 entry, the ACLs are the table
    while True:
        described = admin.describe_user_scram_credentials(list(passwords), request_timeout=timeout_s)
        credentials = set()
        for user, future in described.items():
            with contextlib.suppress(Exception):  # RESOURCE_NOT_FOUND until the credential is applied
                description = future.result(timeout=timeout_s)
                if any(i.mechanism == ScramMechanism.SCRAM_SHA_512 for i in description.scram_credential_infos):
                    credentials.add(user)
        if credentials == set(passwords) and principal_acls() == wanted:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the broker does not show the credentials and ACLs after {timeout_s:.0f}s")
        time.sleep(0.5)
    return SecurityState(users=tuple(passwords), acls_created=len(missing), acls_deleted=len(stale))


def run(env: Mapping[str, str]) -> int:
    """The whole job against the cluster ``env`` describes; the exit code."""
    connection = connection_from_env(env)
    plan = plan_from_env(env)
    secure = manages_security(env, connection)
    passwords = service_passwords(env) if secure else {}  # fail before touching the cluster
    strict = env.get("TOPIC_INIT_STRICT", "false").lower() in ("1", "true", "yes")
    timeout_s = float(env.get("TOPIC_INIT_TIMEOUT_S", "120"))
    states = asyncio.run(ensure_topics(connection, planned_topics(), plan, timeout_s=timeout_s))
    for state in states:
        verb = "created" if state.created else "exists "
        print(f"topic-init: {verb} {state.name} ({state.partitions} partitions x {state.replication_factor} replicas)")
    problems = shortfalls(states, plan)
    for problem in problems:
        print(f"topic-init: WARNING left unchanged: {problem}", file=sys.stderr)
    if secure:
        security = ensure_security(connection, passwords)
        print(
            f"topic-init: SCRAM credentials set for {', '.join(security.users)}; "
            f"ACLs: {security.acls_created} created, {security.acls_deleted} deleted"
        )
    else:
        print("topic-init: no SASL login (or TOPIC_INIT_SECURITY=false): broker users and ACLs left unchanged")
    return 1 if (problems and strict) else 0


def main() -> int:
    return run(dict(os.environ))


if __name__ == "__main__":
    raise SystemExit(main())
