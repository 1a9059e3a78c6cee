"""One transaction of monitoring: load the rows the events need, run the engine per event, store it all.

Used by the consumer (a batch of new events), by the hold job (held events whose hold ended) and, through
:func:`rapport_alliance_monitor.analysis.Analysis.process`, nowhere else. The steps per event are the
engine's (see ``domain/engine.py``): ``state_keys`` -> ``decide`` -> hold or ``evaluate``. Everything the
events change is written in the caller's transaction: state rows, holds, alerts + history, trend points and
the ``alliance.alerts`` events (outbox), so a crash before commit leaves no trace and a redelivery after it
has no second effect (the consumer's positions, stored in the same transaction; see ``store/positions.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from rapport_alliance_monitor import events as alert_events
from rapport_alliance_monitor.domain import (
    AlertDecision,
    ClientState,
    ClinicianState,
    MonitorState,
    PairState,
    Raise,
    Resolve,
    RulesConfig,
    StateKeys,
    Update,
    decide,
    evaluate,
    state_keys,
)
from rapport_alliance_monitor.domain.consent_gate import ConsentDecision, analysis_scope
from rapport_alliance_monitor.metrics import ALERT_LATENCY, ALERTS_RAISED, ALERTS_RESOLVED, LATE_EVENTS
from rapport_alliance_monitor.store import alerts, holds, scores, states
from rapport_common.db import outbox
from rapport_common.events import consent
from rapport_common.events.codec import decode_event
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import OrsSubmitted, SrsSubmitted
from rapport_common.events.fields import tenths
from rapport_common.events.session import SessionStarted


@dataclass
class Stored:
    """What a committed transaction raised and resolved, for the metrics (observed after commit)."""

    raised: list[Raise] = field(default_factory=list)
    resolved_rules: list[str] = field(default_factory=list)

    def observe(self) -> None:
        now = time.time()
        for decision in self.raised:
            ALERTS_RAISED.labels(decision.rule, decision.severity).inc()
            ALERT_LATENCY.observe(max(0.0, now - decision.at.timestamp()))
        for rule in self.resolved_rules:
            ALERTS_RESOLVED.labels(rule).inc()


class Analysis:
    def __init__(self, conn: asyncpg.Connection, config: RulesConfig, *, hold_seconds: float) -> None:
        self.conn = conn
        self.config = config
        self.hold_seconds = hold_seconds
        self._clients: dict[str, ClientState | None] = {}
        self._clinicians: dict[str, ClinicianState | None] = {}
        self._pairs: dict[tuple[str, str], PairState | None] = {}
        self._dirty_clients: set[str] = set()
        self._dirty_clinicians: set[str] = set()
        self._dirty_pairs: set[tuple[str, str]] = set()
        self._decisions: list[tuple[AlertDecision, CloudEvent[Any]]] = []
        self._scores: list[scores.ScoreRow] = []
        self._starts: list[scores.StartRow] = []
        #: scopes granted in this transaction per client: the held events waiting for one of them are re-decided
        self._grants: dict[str, set[str]] = {}
        self.held = 0

    # -- entry points ---------------------------------------------------------------------------------

    async def process(self, events: Sequence[CloudEvent[Any]]) -> None:
        """New events in consumption order: evaluate or hold each, then re-decide holds a consent may cover.

        A client's events are judged in event-time order even across holds: while one of its events waits for
        a consent, its later events (consents aside: they are what releases holds) wait behind it, and are
        decided in order once it is."""
        keys = [state_keys(event) for event in events]
        await self._load(keys)
        waiting = await holds.held_clients(self.conn, {k.client_id for k in keys if k.client_id})
        undecided: list[tuple[CloudEvent[Any], Sequence[str]]] = []
        for event, key in zip(events, keys, strict=True):
            if key.client_id in waiting and type(event).topic != consent.TOPIC:
                undecided.append((event, ()))  # behind an earlier held event of its client
                continue
            decision = await self._apply(event, hold_expired=False, fresh=True)
            if not decision.final:
                undecided.append((event, decision.missing))
                waiting.add(key.client_id or "")
        await holds.hold_many(self.conn, undecided, hold_seconds=self.hold_seconds)  # before reconsidering
        self.held += len(undecided)
        await self._reconsider_holds()

    async def expire_holds(self, *, limit: int = 200, until: datetime | None = None) -> int:
        """Decide the held events whose hold has ended by now and by ``until`` (consent still missing: not
        covered), then the events waiting behind them that can be decided now. Returns how many."""
        client_ids = await holds.due_clients(self.conn, limit=limit, until=until)
        if not client_ids:
            return 0
        await self._load([StateKeys(client_id=client_id) for client_id in client_ids])
        rows = await holds.due_for(self.conn, client_ids, until=until)
        for row in rows:
            await self._apply(decode_event(bytes(row["event"])), hold_expired=True)
        await holds.release(self.conn, [row["seq"] for row in rows])
        await self._decide_in_order(client_ids)
        return len(rows)

    def pair(self, client_id: str, clinician_id: str) -> PairState | None:
        return self._pairs.get((client_id, clinician_id))

    async def load_pair(self, client_id: str, clinician_id: str) -> PairState | None:
        """Lock the client and load one pair (for a person resolving an alert)."""
        await self._load([StateKeys(client_id=client_id, clinician_id=clinician_id, pair=True)])
        return self._pairs.get((client_id, clinician_id))

    def replace_pair(self, pair: PairState) -> None:
        key = (pair.client_id, pair.clinician_id)
        self._pairs[key] = pair
        self._dirty_pairs.add(key)

    async def finish(self) -> Stored:
        """Write what changed; alerts and their history last (they hold the history-order lock to commit)."""
        conn = self.conn
        await states.save_clients(conn, [c for i in sorted(self._dirty_clients) if (c := self._clients[i])])
        await states.save_clinicians(conn, [k for i in sorted(self._dirty_clinicians) if (k := self._clinicians[i])])
        await states.save_pairs(conn, [p for k in sorted(self._dirty_pairs) if (p := self._pairs[k])])
        await scores.record_scores(conn, self._scores)
        await scores.record_starts(conn, self._starts)
        return await self._store_alerts()

    # -- steps ----------------------------------------------------------------------------------------

    async def _load(self, keys: Iterable[StateKeys]) -> None:
        keys = list(keys)
        client_ids = {k.client_id for k in keys if k.client_id and k.client_id not in self._clients}
        clinician_ids = {k.clinician_id for k in keys if k.clinician_id and k.clinician_id not in self._clinicians}
        pair_keys = {
            (k.client_id, k.clinician_id)
            for k in keys
            if k.pair and k.client_id and k.clinician_id and (k.client_id, k.clinician_id) not in self._pairs
        }
        if client_ids:
            await states.lock_clients(self.conn, client_ids)
            found = await states.load_clients(self.conn, client_ids)
            self._clients.update({i: found.get(i) for i in client_ids})
        if clinician_ids:
            found_clinicians = await states.load_clinicians(self.conn, clinician_ids)
            self._clinicians.update({i: found_clinicians.get(i) for i in clinician_ids})
        if pair_keys:
            found_pairs = await states.load_pairs(self.conn, pair_keys)
            self._pairs.update({k: found_pairs.get(k) for k in pair_keys})

    async def _apply(self, event: CloudEvent[Any], *, hold_expired: bool, fresh: bool = False) -> ConsentDecision:
        """Evaluate ``event`` unless its consent is still unknown (then the decision is not final: the caller
        holds it, waiting for the decision's missing scopes). ``fresh``: just consumed (not out of a hold), so
        an event older than what its pair was judged on is late data."""
        keys = state_keys(event)
        await self._load([keys])
        pair_key = (keys.client_id or "", keys.clinician_id or "")
        before = MonitorState(
            client=self._clients.get(keys.client_id) if keys.client_id else None,
            pair=self._pairs.get(pair_key) if keys.pair else None,
            clinician=self._clinicians.get(keys.clinician_id) if keys.clinician_id else None,
        )
        decision = decide(before.client, event, hold_expired=hold_expired)
        if not decision.final:
            return decision
        after = evaluate(before, event, self.config, consent_decision=decision)
        new = after.new_state
        if new.client is not None and new.client is not before.client:
            self._clients[new.client.client_id] = new.client
            self._dirty_clients.add(new.client.client_id)
        if new.clinician is not None and new.clinician is not before.clinician:
            self._clinicians[new.clinician.clinician_id] = new.clinician
            self._dirty_clinicians.add(new.clinician.clinician_id)
        if keys.pair and new.pair is not None:
            judged = before.pair.judged_until if before.pair is not None else None
            if fresh and judged is not None and event.time < judged:
                LATE_EVENTS.labels(type(event).topic).inc()
            if judged is None or event.time > judged:
                self.replace_pair(new.pair.model_copy(update={"judged_until": event.time}))
            elif new.pair is not before.pair:
                self.replace_pair(new.pair)
        self._decisions += [(d, event) for d in after.decisions]
        if isinstance(event, consent.ConsentGranted):
            self._grants.setdefault(event.data.client_id, set()).add(event.data.scope)
        self._record_trend(event, decision)
        return decision

    async def _reconsider_holds(self) -> None:
        """Grants arrived for these clients: their held events are decided again, in order."""
        grants, self._grants = self._grants, {}
        if grants:
            await self._decide_in_order(grants)

    async def _decide_in_order(self, client_ids: Iterable[str]) -> None:
        """Each client's held events in arrival order, each decided now if its consent is known; the first
        that must still wait keeps the client's later ones waiting behind it."""
        released: list[int] = []
        blocked: set[str] = set()
        for row in await holds.held_of(self.conn, client_ids):
            if row["client_id"] in blocked:
                continue
            if (await self._apply(decode_event(bytes(row["event"])), hold_expired=False)).final:
                released.append(row["seq"])
            else:
                blocked.add(row["client_id"])
        await holds.release(self.conn, released)

    def _record_trend(self, event: CloudEvent[Any], decision: ConsentDecision) -> None:
        scope = analysis_scope(event)
        if scope is None or scope in decision.missing:
            return
        if isinstance(event, SrsSubmitted | OrsSubmitted):
            score = event.data
            if score.session_id is not None:  # a baseline ORS (no session) is not a point of the session chart
                scale = "srs" if isinstance(event, SrsSubmitted) else "ors"
                self._scores.append(
                    (
                        event.id,
                        score.client_id,
                        score.clinician_id,
                        scale,
                        score.session_id,
                        event.time,
                        tenths(score.total),
                    )
                )
        elif isinstance(event, SessionStarted):
            started = event.data
            self._starts.append((started.client_id, started.clinician_id, started.session_id, event.time))

    async def _store_alerts(self) -> Stored:
        """Each decision stored unless a replay already did (alert ids are deterministic), with its history
        row and its ``alliance.alerts`` event."""
        stored = Stored()
        if not self._decisions:
            return stored
        await alerts.lock_history(self.conn)
        published: list[CloudEvent[Any]] = []
        for decision, trigger in self._decisions:
            trace = trigger.traceparent
            if isinstance(decision, Raise):
                event = await self._store_raise(decision, trace)
                if event is not None:
                    stored.raised.append(decision)
            elif isinstance(decision, Update):
                event = await self._store_update(decision, trace)
            else:
                event = await self._store_resolve(decision, trace)
                if event is not None:
                    stored.resolved_rules.append(decision.rule)
            if event is not None:
                published.append(event)
        if published:
            await outbox.enqueue(self.conn, published)
        return stored

    async def _store_raise(self, decision: Raise, trace: str | None) -> CloudEvent[Any] | None:
        if not await alerts.insert_raised(self.conn, decision):
            return None  # replayed: the alert exists already
        await alerts.append_history(
            self.conn,
            decision.alert_id,
            action="raised",
            by="rule",
            at=decision.at,
            summary=decision.summary,
            evidence=list(decision.evidence),
        )
        return alert_events.raised(decision, traceparent=trace)

    async def _store_update(self, decision: Update, trace: str | None) -> CloudEvent[Any] | None:
        added = await alerts.add_evidence(self.conn, decision)
        if not added:
            return None
        await alerts.append_history(
            self.conn,
            decision.alert_id,
            action="updated",
            by="rule",
            at=decision.at,
            summary=decision.summary,
            evidence=added,
        )
        return alert_events.updated(decision, added, traceparent=trace)

    async def _store_resolve(self, decision: Resolve, trace: str | None) -> CloudEvent[Any] | None:
        if not await alerts.resolve(
            self.conn, decision.alert_id, by=decision.by, at=decision.at, reason=decision.reason
        ):
            return None
        await alerts.append_history(
            self.conn, decision.alert_id, action="resolved", by=decision.by, at=decision.at, note=decision.reason
        )
        return alert_events.resolved(
            alert_id=decision.alert_id,
            client_id=decision.client_id,
            by=decision.by,
            at=decision.at,
            reason=decision.reason,
            traceparent=trace,
        )
