"""Topic-init job of docker-compose and Kubernetes: create the contract topics and their dead-letter topics.

The topic list comes from the code (``rapport_common.events.TOPICS`` plus ``<topic>.dlq``), never from a copy,
so a topic added to the contract is created by the next deployment. Idempotent: existing topics are left as
they are (partition counts decide key placement, so changing them is a deliberate operation, not a side
effect of a deployment); a topic with fewer partitions or replicas than asked is reported, and makes the job
fail only with ``TOPIC_INIT_STRICT=true``.

Environment: ``KAFKA_BOOTSTRAP_SERVERS`` (as the services), ``TOPIC_PARTITIONS`` (6),
``TOPIC_REPLICATION_FACTOR`` (1; 3 with the three-broker variant), ``TOPIC_MIN_INSYNC_REPLICAS`` (unset:
broker default), ``TOPIC_INIT_TIMEOUT_S`` (120: how long to wait for the brokers), ``TOPIC_INIT_STRICT``.

Run: ``python topic_init.py`` (exit 0 when every topic exists, 1 otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from rapport_common.events import TOPICS
from rapport_common.events.catalog import dlq_topic

_TOPIC_ALREADY_EXISTS = 36


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


def planned_topics() -> list[str]:
    """The five contract topics followed by their dead-letter topics."""
    return [*TOPICS, *(dlq_topic(topic) for topic in TOPICS)]


def plan_from_env(env: dict[str, str]) -> TopicPlan:
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


async def _connect(bootstrap_servers: str, deadline: float) -> AIOKafkaAdminClient:
    """An admin client, retrying while the brokers start (compose starts us as soon as they are healthy)."""
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
        try:
            await admin.start()
            return admin
        except (KafkaError, OSError) as exc:
            with contextlib.suppress(Exception):
                await admin.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"brokers at {bootstrap_servers} did not answer: {exc!r}") from exc
            print(f"topic-init: waiting for brokers at {bootstrap_servers} ({exc.__class__.__name__})", flush=True)
            await asyncio.sleep(2)


async def ensure_topics(
    bootstrap_servers: str, names: Sequence[str], plan: TopicPlan, *, timeout_s: float = 120.0
) -> list[TopicState]:
    """Create the missing topics of ``names`` and describe all of them once the metadata shows them."""
    deadline = time.monotonic() + timeout_s
    admin = await _connect(bootstrap_servers, deadline)
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


def main() -> int:
    env = dict(os.environ)
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    plan = plan_from_env(env)
    strict = env.get("TOPIC_INIT_STRICT", "false").lower() in ("1", "true", "yes")
    timeout_s = float(env.get("TOPIC_INIT_TIMEOUT_S", "120"))
    states = asyncio.run(ensure_topics(bootstrap, planned_topics(), plan, timeout_s=timeout_s))
    for state in states:
        verb = "created" if state.created else "exists "
        print(f"topic-init: {verb} {state.name} ({state.partitions} partitions x {state.replication_factor} replicas)")
    problems = shortfalls(states, plan)
    for problem in problems:
        print(f"topic-init: WARNING left unchanged: {problem}", file=sys.stderr)
    return 1 if (problems and strict) else 0


if __name__ == "__main__":
    raise SystemExit(main())
