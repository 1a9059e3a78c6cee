"""Event-time order end to end (DOMAIN.md "Event-time order"): a backlog read by the monitor raises exactly
the alerts the backtest raises from the same events replayed in order (``backtest(events, RulesConfig())``).

Histories are generated from a seed: several client-clinician pairs (some sharing a clinician; clinicians
with working hours in their own timezone), each onboarded (clinician and client registered, consents, intake
baseline, assignment) and then seen weekly: session started, ORS, pulse, telemetry, SRS, overruns, ended,
with no-shows, late cancellations and messages, scores drawn so that most rules fire. Each topic's events
are published in event-time order and the topics are interleaved at random (a whole topic first, or random
chunks), all before the monitor reads them: the guarantee is about a backlog (an outage, a new instance, a
replay). A monitor reading while topics are published out of step with each other meets late data, which is
processed and counted by design and which an in-order replay cannot see, so that is not compared here.

The monitor has consumed everything once its stored positions (``consumer_positions``) reach the topics' end
offsets and no consent hold remains; its ``alerts`` rows (id, rule, resolved or not) must then equal the
backtest's alerts (id, rule, resolved in the replay or not).

Runs draw whether consents are read first: when they are not, events wait in consent holds during the backlog,
and a client's later events must wait behind them (the two minimised cases at the end pin that down; both
failed before the monitor kept a client's events in order across holds).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from rapport_alliance_monitor.backtest import backtest
from rapport_alliance_monitor.domain import RulesConfig
from rapport_alliance_monitor.store import positions
from rapport_alliance_monitor.use_cases import monitoring
from rapport_common.application.unit_of_work import Transactions
from rapport_common.clock import ManualClock
from rapport_common.events import consent, encode_event
from rapport_common.events.codec import KafkaRecord
from rapport_common.events.consent import ConsentGranted
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.intake import ClinicianRegistered
from rapport_common.kafka.reading import topic_partitions

WEEK = timedelta(days=7)
MINUTE = timedelta(minutes=1)
#: (timezone, working hours) a generated clinician gets
CLINICIAN_PROFILES: tuple[tuple[str, list[tuple[int, str, str]]], ...] = (
    ("Europe/Berlin", [(day, "09:00", "17:00") for day in range(5)]),
    ("Europe/London", [(day, "08:00", "16:00") for day in range(4)]),
    ("America/New_York", [(day, "10:00", "18:30") for day in range(5)]),
)
#: the rules the generated histories are meant to make fire (checked on the replay, so a seed that stops
#: exercising them is noticed)
EXERCISED_RULES = {
    "early-low-alliance",
    "srs-below-cutoff",
    "srs-drop",
    "ors-deterioration",
    "ors-not-improving",
    "pulse-low",
    "withdrawal-telemetry",
    "off-hours-contact",
}
PROPERTY_SEEDS = (1, 2, 3)
ANALYTICS, TREATMENT = "alliance-analytics", "telehealth-treatment"
CATCHUP_PAIRS = 10_000

Event = CloudEvent[Any]
Alerts = dict[str, tuple[str, str, bool]]  # alert id -> (rule, client id, resolved)


# -- generation -----------------------------------------------------------------------------------------------


def generate_history(rng: random.Random, story: Callable[..., Any], *, pairs: int) -> list[Event]:
    """Every event of ``pairs`` generated pairs (unordered: :func:`topic_queues` orders them)."""
    clinicians = [story() for _ in range(rng.randint(2, max(2, pairs // 2)))]
    events: list[Event] = []
    for clinician in clinicians:
        timezone, hours = rng.choice(CLINICIAN_PROFILES)
        events.append(clinician.clinician(timezone=timezone, hours=hours))
    for index in range(pairs):
        # the first ones take a clinician each, the rest share
        clinician_id = (
            clinicians[index].clinician_id if index < len(clinicians) else rng.choice(clinicians).clinician_id
        )
        events += pair_history(rng, story(clinician_id=clinician_id), index)
    return events


def pair_history(rng: random.Random, s: Any, index: int) -> list[Event]:
    """One pair: onboarding, then weekly sessions and messages."""
    baseline = rng.choice([12.0, 16.5, 20.0, 24.0, 29.0])
    events = [e for e in s.onboarding(baseline=baseline) if not isinstance(e, ClinicianRegistered)]
    trajectory = rng.choice(["improving", "flat", "deteriorating"])
    slot = s.ev.T0 + timedelta(days=index % 5, hours=index % 6, minutes=rng.randrange(0, 60, 5))
    for number in range(1, rng.randint(5, 7) + 1):
        scheduled = slot + (number - 1) * WEEK
        session_id = f"{s.client_id}-s{number}"  # session ids are unique in the system (per-session alert ids)
        roll = rng.random()
        if number > 1 and roll < 0.15:
            events.append(s.ev.no_show(session_id, scheduled))
        elif number > 1 and roll < 0.2:
            events.append(s.ev.cancelled(session_id, scheduled, by="client", late=True))
        else:
            events += session_events(rng, s, session_id, scheduled, ors=ors_score(rng, trajectory, baseline, number))
    events += messages(rng, s, weeks=7)
    return events


def ors_score(rng: random.Random, trajectory: str, baseline: float, number: int) -> float:
    if trajectory == "improving":
        total = baseline + 1.6 * number + rng.choice([-1.0, 0.0, 1.0])
    elif trajectory == "deteriorating":
        total = baseline - 2.0 * number + rng.choice([0.0, 1.5])
    else:
        total = baseline + rng.choice([-1.5, 0.0, 1.0, 2.5])
    return round(min(40.0, max(0.0, total)), 1)


def session_events(rng: random.Random, s: Any, session_id: str, scheduled: datetime, *, ors: float) -> list[Event]:
    """An attended session: started, ORS, maybe a recording, a pulse, telemetry, an overrun; SRS, ended."""
    ev = s.ev
    over = rng.choice([0, 0, 0, 3, 12, 16, 20])
    events = [ev.started(session_id, scheduled), ev.ors(ors, session_id=session_id, at=scheduled + 2 * MINUTE)]
    if rng.random() < 0.4:
        events.append(ev.recording(session_id, scheduled + MINUTE))
    if rng.random() < 0.8:
        score = rng.choice([1, 2, 3, 4, 4, 5, 5, 5])
        events.append(
            ev.pulse(score, session_id=session_id, at=scheduled + 20 * MINUTE + rng.randrange(60) * MINUTE / 60)
        )
    withdrawn, silent = rng.random() < 0.2, rng.random() < 0.1
    for minute in range(10, 16):
        long_silence = silent and minute == 13  # a window of 150 s with a 150 s silence
        events.append(
            ev.telemetry(
                session_id,
                scheduled + minute * MINUTE,
                minutes=2.5 if long_silence else 1.0,
                camera=0.2 if withdrawn else 1.0,
                talk=0.05 if withdrawn else 0.45,
                silence=150.0 if long_silence else 8.0,
            )
        )
    if rng.random() < 0.9:
        total = rng.choice([40.0, 40.0, 39.0, 38.0, 37.0, 36.0, 35.0, 33.5, 30.0])
        items = (10.0, 10.0, 10.0, 7.5) if total == 37.0 and rng.random() < 0.5 else None  # srs-item-low
        events.append(ev.srs(total, session_id=session_id, at=scheduled + 48 * MINUTE, items=items))
    if over >= 5:
        events.append(ev.overrun(session_id, over, scheduled + 50 * MINUTE))
    events.append(ev.ended(session_id, scheduled, minutes_over=over))
    return events


def messages(rng: random.Random, s: Any, *, weeks: int) -> list[Event]:
    """Bursts of clinician messages at any hour (off-hours ones count), a few client messages, rare flags."""
    events: list[Event] = []
    used: set[datetime] = set()
    for week in range(weeks):
        senders = ["clinician"] * (rng.choice([0, 0, 1, 3, 4]) if rng.random() < 0.6 else 0)
        senders += ["client"] * rng.choice([0, 0, 1])
        for sender in senders:
            at = (
                s.ev.T0
                + week * WEEK
                + timedelta(
                    days=rng.randrange(7), hours=rng.randrange(24), minutes=rng.randrange(60), seconds=rng.randrange(60)
                )
            )
            if at in used:
                continue
            used.add(at)
            flags = (
                [rng.choice(["off-platform-contact", "payment-request", "social-media"])] if rng.random() < 0.05 else []
            )
            events.append(s.ev.message(at, sender=sender, flags=flags))
    return events


def catch_up_history(s: Any, clinician: bool, rng: random.Random, index: int) -> list[Event]:
    """A small pair for the catch-up: onboarding (two consents) and one or two sessions with ORS and SRS."""
    ev = s.ev
    events: list[Event] = [s.clinician()] if clinician else []
    events += [
        ev.client_registered(),
        ev.grant("telehealth-treatment"),
        ev.grant("measurement-feedback"),
        ev.intake(rng.choice([14.0, 20.0, 27.0])),
        ev.assigned(),
    ]
    start = ev.T0 + timedelta(seconds=index)
    for number in range(1, rng.randint(1, 2) + 1):
        session_id = f"{s.client_id}-s{number}"
        scheduled = start + (number - 1) * WEEK
        events += [
            ev.started(session_id, scheduled),
            ev.ors(rng.choice([8.0, 15.0, 22.0, 30.0]), session_id=session_id, at=scheduled + 2 * MINUTE),
            ev.srs(rng.choice([40.0, 37.0, 34.0]), session_id=session_id, at=scheduled + 48 * MINUTE),
        ]
    return events


# -- publishing -----------------------------------------------------------------------------------------------


def topic_queues(events: Sequence[Event]) -> dict[str, list[Event]]:
    """Per contract topic, its events in event-time order (stable: equal times keep generation order)."""
    queues: dict[str, list[Event]] = {}
    for event in events:
        queues.setdefault(type(event).topic, []).append(event)
    return {topic: sorted(queue, key=lambda e: e.time) for topic, queue in sorted(queues.items())}


def interleave(rng: random.Random, queues: dict[str, list[Event]], *, max_chunk: int) -> list[list[Event]]:
    """The publishing order as chunks of one topic each: each topic's order kept, topics interleaved at random
    (half the time one whole topic after another in a random order, else random chunks of 1..max_chunk)."""
    remaining = {topic: list(queue) for topic, queue in queues.items() if queue}
    whole_topics = rng.random() < 0.5
    chunks: list[list[Event]] = []
    while remaining:
        topic = rng.choice(sorted(remaining))
        queue = remaining[topic]
        size = len(queue) if whole_topics else rng.randint(1, max_chunk)
        chunks.append(queue[:size])
        del queue[:size]
        if not queue:
            del remaining[topic]
    return chunks


async def publish_chunks(env: Any, chunks: Sequence[Sequence[Event]], *, per_call: int = 5_000) -> list[Event]:
    """Publish the chunks in order (one producer call per chunk, at most ``per_call`` records); returns the
    events in publication order (each topic partition's offset order)."""
    published: list[Event] = []
    for chunk in chunks:
        for start in range(0, len(chunk), per_call):
            part = chunk[start : start + per_call]
            records = [encode_event(e) for e in part]
            acked = await env.producer.publish(
                [KafkaRecord(env.topics[r.topic], r.key, r.value, r.headers) for r in records]
            )
            assert all(acked), "the broker refused a test record"
            published += part
    return published


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, list(topics))
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


# -- waiting --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where the monitor's group stands in PostgreSQL."""

    positions: dict[tuple[str, int], int]
    holds: int

    def processed(self) -> int:
        return sum(self.positions.values())

    def reached(self, ends: dict[tuple[str, int], int]) -> bool:
        return self.holds == 0 and all(self.positions.get(where, 0) >= end for where, end in ends.items() if end)


async def progress(env: Any) -> Progress:
    conn = await env.db()
    try:
        return Progress(
            await positions.positions(conn, env.group), await conn.fetchval("SELECT count(*) FROM consent_holds")
        )
    except asyncpg.UndefinedTableError:  # not migrated yet
        return Progress({}, 0)
    finally:
        await conn.close()


async def wait_processed(env: Any, ends: dict[tuple[str, int], int], *, within: float) -> Progress:
    """Until the stored positions reach ``ends`` and no consent hold remains."""
    deadline = time.monotonic() + within
    while not (now := await progress(env)).reached(ends):
        if time.monotonic() > deadline:
            behind = {w: (now.positions.get(w, 0), end) for w, end in ends.items() if now.positions.get(w, 0) < end}
            raise AssertionError(f"not consumed within {within:.0f}s: holds={now.holds}, behind={behind}")
        await asyncio.sleep(0.2)
    return now


async def wait_at_least(env: Any, records: int, *, within: float) -> int:
    deadline = time.monotonic() + within
    while (done := (await progress(env)).processed()) < records:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {done} of {records} records processed within {within:.0f}s")
        await asyncio.sleep(0.1)
    return done


def stop_after(consumer: Any, *, records: int) -> None:
    """Make ``consumer`` stop (finish its batch in hand, commit, and return) once its handler has been handed
    ``records`` records: a monitor going down in the middle of a backlog, wherever its batches end."""
    handler, handed = consumer.handler, 0

    async def counting(batch: list[Any]) -> None:
        nonlocal handed
        await handler(batch)
        handed += len(batch)
        if handed >= records:
            consumer.stop()

    consumer.handler = counting


@asynccontextmanager
async def instances(env: Any, count: int, **settings: Any) -> AsyncIterator[list[Any]]:
    """``count`` monitor instances of the test's group running at once (started one after the other)."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(env.running(**settings)) for _ in range(count)]


# -- comparing ------------------------------------------------------------------------------------------------


async def monitor_alerts(env: Any) -> Alerts:
    conn = await env.db()
    try:
        rows = await conn.fetch("SELECT alert_id, rule, client_id, status FROM alerts")
    finally:
        await conn.close()
    return {r["alert_id"]: (r["rule"], r["client_id"], r["status"] == "resolved") for r in rows}


def replayed_alerts(events: Sequence[Event]) -> Alerts:
    return {
        a.alert_id: (a.rule, a.client_id, a.resolved_at is not None) for a in backtest(events, RulesConfig()).alerts
    }


def differences(monitor: Alerts, replay: Alerts) -> list[str]:
    """One line per alert id the two disagree on (missing on one side, another rule, or resolved on one only)."""
    lines = []
    for alert_id in sorted(monitor.keys() | replay.keys(), key=lambda i: (monitor.get(i) or replay[i], i)):
        live, replayed = monitor.get(alert_id), replay.get(alert_id)
        if live != replayed:
            lines.append(f"{alert_id}: monitor {_describe(live)} | backtest {_describe(replayed)}")
    return lines


def _describe(alert: tuple[str, str, bool] | None) -> str:
    if alert is None:
        return "-"
    rule, client, resolved = alert
    return f"{rule} {client} {'resolved' if resolved else 'open'}"


def assert_same_alerts(monitor: Alerts, replay: Alerts) -> None:
    diff = differences(monitor, replay)
    print(f"monitor {len(monitor)} alerts, backtest {len(replay)}, {len(diff)} differences")
    print("\n".join(diff))
    assert not diff, f"{len(diff)} differences between the monitor and the backtest:\n" + "\n".join(diff)


# -- the tests ------------------------------------------------------------------------------------------------

RUNS = ("one-instance", "two-instances", "restart")


def test_the_generated_histories_make_the_rules_fire(story: Callable[..., Any]) -> None:
    """No broker: the histories the property test uses raise alerts of every exercised rule between them,
    and several rules each (a generator change that stops exercising them is noticed here)."""
    fired: Counter[str] = Counter()
    for run in RUNS:
        for seed in PROPERTY_SEEDS:
            rng = random.Random(f"{run}-{seed}")
            rules = Counter(
                rule for rule, _, _ in replayed_alerts(generate_history(rng, story, pairs=rng.randint(6, 10))).values()
            )
            assert len(rules) >= 6, (run, seed, rules)
            fired += rules
    print(dict(fired))
    assert fired.keys() >= EXERCISED_RULES, EXERCISED_RULES - fired.keys()


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", PROPERTY_SEEDS)
@pytest.mark.parametrize("run", RUNS)
async def test_a_backlog_raises_what_the_in_order_replay_raises(
    monitor_env: Any, story: Callable[..., Any], run: str, seed: int
) -> None:
    rng = random.Random(f"{run}-{seed}")
    history = generate_history(rng, story, pairs=rng.randint(6, 10))
    chunks = interleave(rng, topic_queues(history), max_chunk=rng.choice([5, 40]))
    published = await publish_chunks(monitor_env, chunks)
    ends = await end_offsets(monitor_env.bootstrap, list(monitor_env.topics.values()))
    assert sum(ends.values()) == len(published)
    replay = replayed_alerts(published)
    fired = Counter(rule for rule, _, _ in replay.values())
    print(f"{run} seed {seed}: {len(published)} events in {len(chunks)} chunks; backtest alerts {dict(fired)}")

    # drawn too: where batches end, when a partition is paused for holding too much, and whether consents are
    # read first (as under the default topic names) or come as fetched (the consent holds then wait for them)
    settings: dict[str, Any] = {
        "kafka_max_batch": rng.choice([5, 50, 500]),
        "max_held_per_partition": rng.choice([3, 40, 2_000]),
        "read_first_topics": rng.choice([[monitor_env.topics[consent.TOPIC]], []]),
    }
    started = time.monotonic()
    if run == "restart":
        async with monitor_env.running(**settings) as first:
            stop_after(first.app.state.runtime.consumers[0], records=len(published) // 2)
            await wait_at_least(monitor_env, len(published) // 2, within=300)
        stopped_at = (await progress(monitor_env)).processed()
        print(f"stopped after {stopped_at} of {len(published)} records")
        async with monitor_env.running(**settings):
            await wait_processed(monitor_env, ends, within=600)
    else:
        async with instances(monitor_env, 2 if run == "two-instances" else 1, **settings) as running:
            await wait_processed(monitor_env, ends, within=600)
            consumers = [m.app.state.runtime.consumers[0] for m in running]
            print("partitions per instance:", [len(c.assignment) for c in consumers])
    print(f"settings {settings}: consumed in {time.monotonic() - started:.1f}s")
    assert_same_alerts(await monitor_alerts(monitor_env), replay)


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_a_monitor_started_on_a_backlog_of_10000_pairs_raises_what_the_replay_raises(
    monitor_env: Any, story: Callable[..., Any]
) -> None:
    rng = random.Random("catch-up")
    clinicians = [story().clinician_id for _ in range(CATCHUP_PAIRS // 20)]
    history: list[Event] = []
    for index in range(CATCHUP_PAIRS):
        clinician = clinicians[index % len(clinicians)]
        history += catch_up_history(story(clinician_id=clinician), index < len(clinicians), rng, index)
    began = time.monotonic()
    published = await publish_chunks(monitor_env, interleave(rng, topic_queues(history), max_chunk=20_000))
    ends = await end_offsets(monitor_env.bootstrap, list(monitor_env.topics.values()))
    assert sum(ends.values()) == len(published)
    published_in = time.monotonic() - began

    began = time.monotonic()
    replay = replayed_alerts(published)
    replayed_in = time.monotonic() - began
    print(f"{len(published)} events published in {published_in:.1f}s, replayed in {replayed_in:.1f}s")
    print("backtest alerts:", dict(Counter(rule for rule, _, _ in replay.values())))

    began = time.monotonic()
    async with monitor_env.running():
        await wait_processed(monitor_env, ends, within=3000)
    consumed_in = time.monotonic() - began
    print(f"the monitor caught up in {consumed_in:.1f}s ({len(published) / consumed_in:.0f} events/s)")
    assert_same_alerts(await monitor_alerts(monitor_env), replay)


# -- minimised: events released from a consent hold must not be judged after later ones ----------------------
#
# Events wait in a consent hold for a grant read later; the pair's later events must not be judged before them.
# These failed before a client's events waited behind its held ones (``Analysis.process``): the batch that
# brought the grant was judged first and the held events re-decided after it. Below, the consumer's two batches
# handed straight to the monitoring use case (real PostgreSQL, no broker, deterministic).


async def analysed_in_batches(pool: asyncpg.Pool, *batches: Sequence[Event]) -> Alerts:
    """The monitor's use case over ``batches`` as a consumer hands them over, one unit of work each; its alerts."""
    transactions = Transactions(pool, ManualClock(datetime.now(UTC)))
    for batch in batches:
        async with transactions.begin() as uow:
            await monitoring.analyse(uow, events=list(batch), rules=RulesConfig())
    rows = await pool.fetch("SELECT alert_id, rule, client_id, status FROM alerts")
    return {r["alert_id"]: (r["rule"], r["client_id"], r["status"] == "resolved") for r in rows}


def withdrawn_session(s: Any, session_id: str, scheduled: datetime) -> list[Event]:
    """A session whose six telemetry windows show the camera mostly off (withdrawal-telemetry)."""
    windows = [s.ev.telemetry(session_id, scheduled + m * MINUTE, camera=0.2) for m in range(10, 16)]
    return [s.ev.started(session_id, scheduled), *windows]


async def test_held_telemetry_released_by_a_grant_is_judged_before_the_later_session(
    monitor_pool: asyncpg.Pool, story: Callable[..., Any]
) -> None:
    """Week 1's windows wait for the alliance-analytics grant; the batch with the grant also brings week 2's
    windows, judged first, so week 1's are then older than the pair's lookback (stale) and week 1 raises no
    withdrawal-telemetry. The in-order replay raises it for both weeks."""
    s = story()
    onboarding = [e for e in s.onboarding() if not (isinstance(e, ConsentGranted) and e.data.scope == ANALYTICS)]
    week1 = withdrawn_session(s, f"{s.client_id}-s1", s.ev.T0)
    week2 = withdrawn_session(s, f"{s.client_id}-s2", s.ev.T0 + WEEK)
    grant = s.ev.grant(ANALYTICS)
    monitor = await analysed_in_batches(monitor_pool, [*onboarding, *week1], [grant, *week2])
    assert_same_alerts(monitor, replayed_alerts([*onboarding, *week1, grant, *week2]))


async def test_a_session_start_held_for_its_grant_is_missing_when_the_next_srs_is_judged(
    monitor_pool: asyncpg.Pool, story: Callable[..., Any]
) -> None:
    """Across scopes: the measurement-feedback grant is known, telehealth-treatment is not yet, so the four
    session starts wait while each session's SRS is judged at once; session 4's low SRS is then taken as
    session 1 and raises early-low-alliance where the replay (four starts before it) raises srs-below-cutoff."""
    s = story()
    onboarding = [e for e in s.onboarding() if not (isinstance(e, ConsentGranted) and e.data.scope == TREATMENT)]
    sessions = []
    for number in range(1, 5):
        session_id, at = f"{s.client_id}-s{number}", s.ev.T0 + (number - 1) * WEEK
        sessions += [
            s.ev.started(session_id, at),
            s.ev.srs(38.0 if number < 4 else 30.0, session_id=session_id, at=at + 48 * MINUTE),
        ]
    grant = s.ev.grant(TREATMENT)
    monitor = await analysed_in_batches(monitor_pool, [*onboarding, *sessions], [grant])
    assert_same_alerts(monitor, replayed_alerts([*onboarding, *sessions, grant]))
