"""Faults on a 3-node Apache Kafka cluster under load (replication 3, ``min.insync.replicas=2``, producers with
``acks=all`` and idempotence): the leader of most partitions under load SIGKILLed and restarted, a rolling
restart of all three nodes, one node SIGSTOPped for 30 s. Same stack, load and checks as
``test_stack_faults.py`` (imported from it); the outcomes go to ``$RAPPORT_RELIABILITY_CLUSTER_OUT``
(default ``/tmp/rapport-reliability-cluster-faults.json``) and are printed as a table.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.reliability.test_stack_faults import (
    Harness,
    Outcome,
    assert_clean,
    busiest_leader,
    in_sync,
    partition_map,
    run_before_fault,
    running_harness,
    verify,
    wait_for,
)

OUT = Path(os.environ.get("RAPPORT_RELIABILITY_CLUSTER_OUT", "/tmp/rapport-reliability-cluster-faults.json"))


@pytest.fixture(scope="module")
async def cluster_harness() -> AsyncIterator[Harness]:
    async with running_harness(OUT, broker_kind="kafka", kafka_nodes=3) as h:
        yield h


async def test_cluster_leader_of_the_load_killed_and_restarted(cluster_harness: Harness) -> None:
    h = cluster_harness
    await run_before_fault(h)
    node = busiest_leader(h.stack.kafka)
    killed = time.monotonic()
    h.stack.cluster.kill_node(node)
    outcome = Outcome(f"3 nodes: SIGKILL of node {node} (leader of most partitions under load)", "3 workers")
    live = ",".join(f"127.0.0.1:{n.port}" for n in h.stack.cluster.members if n.node_id != node)
    outcome.leaders_back_s = await wait_for(
        lambda: all(leader not in (-1, node) for *_x, leader, _r, _i in partition_map(live)), killed
    )
    await asyncio.sleep(10)  # the load runs on two nodes (min.insync.replicas=2 still met)
    restarted = time.monotonic()
    h.stack.cluster.restart_node(node)
    outcome.in_sync_s = await in_sync(h.stack.kafka, restarted)
    outcome.notes.append("leaders_back_s from the kill; in_sync_s from the restart")
    outcome = await verify(h, outcome, time.time(), killed)
    assert_clean(outcome)
    assert outcome.leaders_back_s is not None and outcome.in_sync_s is not None


async def test_cluster_rolling_restart_of_all_three_nodes(cluster_harness: Harness) -> None:
    h = cluster_harness
    await run_before_fault(h)
    started = time.monotonic()
    for node in h.stack.cluster.members:
        await asyncio.to_thread(h.stack.cluster.stop_node, node.node_id)  # controlled shutdown
        h.stack.cluster.restart_node(node.node_id)
        back = await in_sync(h.stack.kafka, time.monotonic())
        assert back is not None, f"node {node.node_id} did not rejoin every ISR"
    outcome = Outcome("3 nodes: rolling restart (SIGTERM, start, wait for full ISR; each node)", "3 workers")
    outcome.in_sync_s = time.monotonic() - started
    outcome.notes.append("in_sync_s: the whole roll, three nodes")
    outcome = await verify(h, outcome, time.time(), started)
    assert_clean(outcome)


async def test_cluster_node_stopped_for_thirty_seconds(cluster_harness: Harness) -> None:
    h = cluster_harness
    await run_before_fault(h)
    node = busiest_leader(h.stack.kafka)
    h.stack.cluster.pause_node(node)
    paused = time.monotonic()
    try:
        await asyncio.sleep(30)
    finally:
        h.stack.cluster.resume_node(node)
    resumed = time.monotonic()
    outcome = Outcome(f"3 nodes: SIGSTOP of node {node} for 30 s, then SIGCONT", "3 workers")
    outcome.in_sync_s = await in_sync(h.stack.kafka, resumed)
    outcome.notes.append(f"paused {resumed - paused:.1f} s; in_sync_s from SIGCONT")
    outcome = await verify(h, outcome, time.time(), paused)
    assert_clean(outcome)
