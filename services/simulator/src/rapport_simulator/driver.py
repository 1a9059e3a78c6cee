"""Drives the population through the public HTTP APIs, as the front ends would, and books the ground truth.

Who calls what (the roles the real front ends use):
- ``supervisor-01`` (supervisor) registers the clinicians into their team and assigns clients;
- each clinician registers their clients, schedules, starts and ends sessions, sends messages, cancels;
- each client grants their consents (e-signature), completes the intake (adults), joins sessions, answers
  ORS, pulses and SRS, sends messages, revokes a consent;
- the signing service (``service``, subject ``esign-portal``) records a guardian's e-signature for minors;
- the video client (``service``, subject ``video-client``) posts telemetry windows.

Onboarding order per client: register, assign, consents, then the intake with its baseline ORS: the
baseline is a feedback event and is analysed only under an active ``measurement-feedback`` consent.

Time. Scheduled times are always chosen by the client, so a session planned at simulated time S is booked
at ``real(S)`` (compressed by ``speed``). Telemetry windows carry their own times (``window_start``/``end``).
Every other action (start, join, end, cancel, ORS, pulse, SRS, messages, consents) is stamped by the
service's clock when the request arrives: the simulator cannot backdate them, so accelerated mode performs
them at the compressed real time instead. Overruns are the exception: the time rules measure minutes past
``scheduled_end`` on the server clock, so an overrunning session stays open for its overrun in *real*
minutes (``overrun_clock="real"``, the default, for overruns of 10 minutes or more), or is compressed and
then invisible to the overrun rules (``"compressed"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rapport_simulator.api import Api, ApiError
from rapport_simulator.clock import SimClock
from rapport_simulator.population import REQUIRED_SCOPES, Client, Clinician, Population
from rapport_simulator.trajectory import (
    BOUNDARY_KINDS,
    SESSION_MINUTES,
    ClientPlan,
    SessionPlan,
    plan_client,
)
from rapport_simulator.truth import GroundTruth, outside_hours

log = logging.getLogger("rapport_simulator")

SIGNING_SERVICE = ("esign-portal", "service")
VIDEO_CLIENT = ("video-client", "service")
COMPLIANCE = ("compliance-01", "compliance")
WEEK = timedelta(days=7)
#: the session service caches consent answers for 10 s (CONSENT_CACHE_TTL_S); wait past it after a revocation
CONSENT_CACHE_WAIT_S = 12.0
#: overruns at least this long run in real minutes (the overrun rules' thresholds are 10 and 15 minutes)
REAL_OVERRUN_FROM_MIN = 10
CONCERNS = ("low mood", "worry", "sleep", "stress at work or school", "relationships", "grief")
GOALS = ("feel calmer day to day", "sleep through the night", "get back to activities", "argue less at home")


class PopulationClash(RuntimeError):
    """The database already holds different people under the simulator's ids."""


@dataclass
class Options:
    seed: int = 7
    speed: float = 1000.0
    duration_s: float | None = None
    clinicians: int = 6
    caseload: tuple[int, int] = (15, 30)
    truth_out: Path | None = None
    overrun_clock: str = "real"
    progress_every_s: float = 10.0
    setup_concurrency: int = 12
    #: realtime only: the first session of each client starts within this many minutes (live demo)
    realtime_first_within_min: float = 30.0
    #: cap on simulated weeks (None: until the duration ends)
    weeks: int | None = None
    client_prefix: str = "client"


@dataclass
class ClientBook:
    client: Client
    plan: ClientPlan
    clinician: Clinician
    active_scopes: set[str] = field(default_factory=set)
    consent_ids: dict[str, str] = field(default_factory=dict)


class Simulation:
    def __init__(self, api: Api, population: Population, options: Options) -> None:
        self.api = api
        self.population = population
        self.options = options
        self.clock = SimClock(options.speed)
        mode = "realtime" if options.speed == 1 else "accelerated"
        self.truth = GroundTruth(seed=population.seed, mode=mode, speed=options.speed)
        self.books: list[ClientBook] = []
        self.sessions_running = 0
        self.started_monotonic = time.monotonic()

    # -- entry ------------------------------------------------------------------------------------------
    async def run(self) -> GroundTruth:
        self.truth.real_start = datetime.now(UTC)
        log.info(
            "simulation starting: clients=%d mode=%s speed=%s",
            len(self.population.clients),
            self.truth.mode,
            self.options.speed,
        )
        stopper = asyncio.create_task(self._stop_after(self.options.duration_s))
        progress = asyncio.create_task(self._progress())
        try:
            await self._setup()
            self.clock.restart(datetime.now(UTC))
            self.truth.sim_start = self.clock.sim_start
            await asyncio.gather(*(self._course(book) for book in self.books))
        finally:
            self.clock.stopped.set()
            stopper.cancel()
            progress.cancel()
            self.truth.sim_end = min(self.clock.sim_now(), self._sim_cap())
            self.truth.real_end = datetime.now(UTC)
            self._log_progress("simulation finished")
        return self.truth

    def _sim_cap(self) -> datetime:
        if self.options.weeks is None:
            return datetime.max.replace(tzinfo=UTC)
        return self.clock.sim_start + self.options.weeks * WEEK

    async def _stop_after(self, seconds: float | None) -> None:
        if seconds is None:
            return
        await asyncio.sleep(seconds)
        log.info("duration reached: winding down")
        self.clock.stopped.set()

    async def _progress(self) -> None:
        while True:
            await asyncio.sleep(self.options.progress_every_s)
            self._log_progress("progress")

    def _log_progress(self, message: str) -> None:
        stats = self.api.stats
        counts = self.truth.counts
        fields = {
            "elapsed_s": round(time.monotonic() - self.started_monotonic, 1),
            "sim_day": round((self.clock.sim_now() - self.clock.sim_start).total_seconds() / 86400, 2),
            "requests": sum(stats.requests.values()),
            "backpressure_waits": stats.backpressure_waits,
            "failures": stats.failures,
            "running": self.sessions_running,
            "started": counts.get("sessions_started", 0),
            "ended": counts.get("sessions_ended", 0),
            "messages": counts.get("messages", 0),
        }
        log.info("%s %s", message, " ".join(f"{k}={v}" for k, v in fields.items()))

    # -- onboarding ---------------------------------------------------------------------------------------
    async def _setup(self) -> None:
        sup = (self.population.supervisor_id, "supervisor")
        for clinician in self.population.clinicians:
            await self.api.call(
                "intake",
                "POST",
                "/clinicians",
                as_=sup,
                json_body={
                    "clinician_id": clinician.clinician_id,
                    "display_name": clinician.display_name,
                    "timezone": clinician.timezone,
                    "working_hours": [h.__dict__ for h in clinician.working_hours],
                },
                idempotent=True,
                ok=(409,),
            )
            habits = [
                h
                for h, on in (("overrun", clinician.overrun_habit), ("after-hours", clinician.after_hours_habit))
                if on
            ]
            self.truth.clinician(
                clinician.clinician_id, timezone=clinician.timezone, hours=clinician.working_hours, habits=habits
            )
        for client in self.population.clients:
            clinician = self.population.clinician(client.clinician_id)
            plan = plan_client(self.population.seed, client, clinician)
            self.books.append(ClientBook(client, plan, clinician))
            self.truth.client(
                client.client_id,
                client.clinician_id,
                client.age_band,
                {
                    "kind": plan.kind,
                    "alliance": plan.alliance,
                    "rupture": plan.rupture,
                    "rupture_at": plan.rupture_at,
                    "boundary": plan.boundary,
                    "boundary_at": plan.boundary_at,
                    "declined": sorted(client.declined),
                    "revocation": client.revocation.__dict__ if client.revocation else None,
                },
            )
        gate = asyncio.Semaphore(self.options.setup_concurrency)

        async def onboard(book: ClientBook) -> None:
            async with gate:
                if not self.clock.stopped.is_set():
                    await self._onboard(book)

        await asyncio.gather(*(onboard(book) for book in self.books))
        log.info("population onboarded: clients=%d", len(self.books))

    async def _onboard(self, book: ClientBook) -> None:
        client, plan = book.client, book.plan
        clin = (client.clinician_id, "clinician")
        registered = await self.api.call(
            "intake",
            "POST",
            "/clients",
            as_=clin,
            json_body={"client_id": client.client_id, "age_band": client.age_band, "timezone": client.timezone},
            idempotent=True,
            ok=(409,),
        )
        if "age_band" not in (registered or {}):  # 409: registered by an earlier run on this database
            await self._check_earlier_registration(client)
        await self.api.call(
            "intake",
            "POST",
            f"/clients/{client.client_id}/assignments",
            as_=(self.population.supervisor_id, "supervisor"),
            json_body={"clinician_id": client.clinician_id},
            idempotent=True,
        )
        scopes = [
            *REQUIRED_SCOPES,
            *(s for s in ("alliance-analytics", "message-scanning", "session-recording") if s not in client.declined),
        ]
        for scope in scopes:
            book.consent_ids[scope] = await self._grant(client, scope)
            book.active_scopes.add(scope)
        rng = random.Random(f"{self.population.seed}:{client.client_id}:intake")
        body = {
            "presenting_concerns": rng.sample(CONCERNS, 2),
            "goals": rng.sample(GOALS, 1),
            "baseline_ors": dict(
                zip(
                    ("individual", "interpersonal", "social", "overall"),
                    (v / 10 for v in plan.baseline_ors),
                    strict=True,
                )
            ),
        }
        author = (client.client_id, "client") if client.age_band == "adult" else clin
        await self.api.call(
            "intake",
            "POST",
            f"/clients/{client.client_id}/intake",
            as_=author,
            json_body=body,
            idempotent=True,
            ok=(409,),
        )
        self.truth.baseline(client.client_id, plan.baseline_total)

    async def _check_earlier_registration(self, client: Client) -> None:
        """An earlier run registered this id: continue only if it is the same person (same seed and prefix)."""
        summary = await self.api.call("intake", "GET", f"/clients/{client.client_id}/intake", as_=COMPLIANCE)
        if summary["age_band"] != client.age_band or summary["clinician_id"] not in (None, client.clinician_id):
            raise PopulationClash(
                "this database holds another population under the same client ids (an earlier run with another "
                "seed): use a fresh --data-dir or another --client-prefix"
            )
        self.truth.counts["clients_from_earlier_run"] = self.truth.counts.get("clients_from_earlier_run", 0) + 1

    async def _grant(self, client: Client, scope: str) -> str:
        body: dict[str, Any] = {"client_id": client.client_id, "scope": scope, "method": "e-signature"}
        if client.guardian_id is None:
            caller = (client.client_id, "client")
        else:
            caller = SIGNING_SERVICE
            body["consenter"] = {"actor_id": client.guardian_id, "role": "guardian"}
        out = await self.api.call("consent", "POST", "/consents", as_=caller, json_body=body, idempotent=True)
        return str(out["consent_id"])

    async def _revoke(self, book: ClientBook, scope: str) -> None:
        client = book.client
        body: dict[str, Any] = {"reason": "changed my mind"}
        if client.guardian_id is None:
            caller = (client.client_id, "client")
        else:
            caller = SIGNING_SERVICE
            body["revoker"] = {"actor_id": client.guardian_id, "role": "guardian"}
        await self.api.call(
            "consent",
            "POST",
            f"/consents/{book.consent_ids[scope]}/revoke",
            as_=caller,
            json_body=body,
            idempotent=True,
        )
        book.active_scopes.discard(scope)
        self.truth.counts["revocations"] = self.truth.counts.get("revocations", 0) + 1
        # the session service may still answer from its consent cache: stay quiet for this client meanwhile
        await self.clock.sleep_real(CONSENT_CACHE_WAIT_S)

    # -- a client's course ------------------------------------------------------------------------------
    def _first_slot(self, book: ClientBook) -> datetime:
        rng = random.Random(f"{self.population.seed}:{book.client.client_id}:slot")
        now = self.clock.sim_now()
        if self.options.speed == 1:
            return now + timedelta(minutes=rng.uniform(1.0, self.options.realtime_first_within_min))
        hours = rng.choice(book.clinician.working_hours)
        start_h = int(hours.start[:2])
        end_h = int(hours.end[:2])
        hour = rng.randint(start_h, max(start_h, end_h - 1))
        tz = ZoneInfo(book.clinician.timezone)
        local = now.astimezone(tz).replace(hour=hour, minute=0, second=0, microsecond=0)
        local += timedelta(days=(hours.weekday - local.weekday()) % 7)
        slot = local.astimezone(UTC)
        while slot < now + timedelta(hours=2):
            slot += WEEK
        return slot

    def _bookable(self, start: datetime, margin_s: float) -> datetime:
        """``start`` or, if its real time is too close, a later day that can still be booked."""
        while (self.clock.real(start) - datetime.now(UTC)).total_seconds() < margin_s:
            start += timedelta(days=1)
        return start

    async def _schedule(self, book: ClientBook, start: datetime) -> dict[str, Any]:
        """Book at ``start`` (simulated); when the request arrives too late for it (a slow answer under load,
        real time having moved on), book the next day instead, with a wider margin each time."""
        margin_s = 2.0
        for attempt in range(6):
            start = self._bookable(start, margin_s)
            body = {
                "client_id": book.client.client_id,
                "scheduled_start": self.clock.real(start).isoformat(),
                "scheduled_end": self.clock.real(start + timedelta(minutes=SESSION_MINUTES)).isoformat(),
                "modality": "video",
            }
            try:
                view: dict[str, Any] = await self.api.call(
                    "session",
                    "POST",
                    "/sessions",
                    as_=(book.client.clinician_id, "clinician"),
                    json_body=body,
                    idempotent=True,
                )
            except ApiError as exc:
                if exc.status != 422 or "must be in the future" not in exc.detail or attempt == 5:
                    raise
                margin_s *= 2
                continue
            view["sim_start"] = start
            return view
        raise AssertionError("unreachable")

    async def _course(self, book: ClientBook) -> None:
        try:
            await self._course_inner(book)
        except ApiError as exc:
            log.warning("a client course stopped on an API error: %s", exc)
        except Exception:
            log.exception("client course failed")

    async def _course_inner(self, book: ClientBook) -> None:
        if self.clock.stopped.is_set():
            return
        view = await self._schedule(book, self._first_slot(book))
        for plan in book.plan.sessions:
            start: datetime = view["sim_start"]
            if self.clock.stopped.is_set() or start >= self._sim_cap():
                await self._cancel_pending(book, view)
                return
            if not await self._hold_session(book, plan, view):
                return
            if book.client.revocation and book.client.revocation.after_session == plan.index:
                scope = book.client.revocation.scope
                if scope in book.active_scopes:
                    await self._revoke(book, scope)
            if self.clock.stopped.is_set():
                return
            next_view = await self._schedule(book, max(start + WEEK, self.clock.sim_now() + timedelta(days=1)))
            await self._messages(book, plan, start, next_view["sim_start"])
            view = next_view
        await self._cancel_pending(book, view)

    async def _cancel_pending(self, book: ClientBook, view: dict[str, Any]) -> None:
        """Winding down: the clinician cancels the booked session, so no no-show fires after the run."""
        with contextlib.suppress(ApiError):
            await self.api.call(
                "session",
                "POST",
                f"/sessions/{view['session_id']}/cancel",
                as_=(book.client.clinician_id, "clinician"),
                ok=(409,),
            )

    async def _hold_session(self, book: ClientBook, plan: SessionPlan, view: dict[str, Any]) -> bool:
        """One booked session: cancelled, missed or held. False when the run stopped before it could happen."""
        start: datetime = view["sim_start"]
        sid = view["session_id"]
        scheduled_start = datetime.fromisoformat(view["scheduled_start"])
        cid = book.client.client_id
        if plan.attendance == "client-late-cancel":
            missed_first = book.plan.rupture_at == plan.index
            if self.options.speed == 1 and missed_first:
                return await self._no_show(book, view)
            if not await self.clock.sleep_until(start - timedelta(hours=6)):
                await self._cancel_pending(book, view)
                return False
            out = await self.api.call("session", "POST", f"/sessions/{sid}/cancel", as_=(cid, "client"))
            self.truth.cancelled(cid, scheduled_start, by="client", late=bool(out.get("late")))
            return True
        if plan.attendance == "clinician-cancel":
            if not await self.clock.sleep_until(start - timedelta(days=2)):
                await self._cancel_pending(book, view)
                return False
            out = await self.api.call(
                "session", "POST", f"/sessions/{sid}/cancel", as_=(book.client.clinician_id, "clinician")
            )
            self.truth.cancelled(cid, scheduled_start, by="clinician", late=bool(out.get("late")))
            return True
        return await self._attend(book, plan, view)

    async def _no_show(self, book: ClientBook, view: dict[str, Any]) -> bool:
        """Real time only: the client never joins; the session service declares the no-show itself."""
        sid = view["session_id"]
        start: datetime = view["sim_start"]
        if not await self.clock.sleep_until(start + timedelta(minutes=16)):
            await self._cancel_pending(book, view)
            return False
        out = await self.api.call("session", "GET", f"/sessions/{sid}", as_=(book.client.clinician_id, "clinician"))
        if out.get("status") not in ("scheduled", "running", "cancelled"):
            self.truth.no_show(book.client.client_id, datetime.fromisoformat(view["scheduled_start"]))
        return True

    async def _attend(self, book: ClientBook, plan: SessionPlan, view: dict[str, Any]) -> bool:
        sid = view["session_id"]
        cid = book.client.client_id
        client = (cid, "client")
        clin = (book.client.clinician_id, "clinician")
        start: datetime = view["sim_start"]
        scheduled_start = datetime.fromisoformat(view["scheduled_start"])
        scheduled_end = datetime.fromisoformat(view["scheduled_end"])
        if not await self.clock.sleep_until(start - timedelta(minutes=2)):
            await self._cancel_pending(book, view)
            return False
        await self.api.call("session", "POST", f"/sessions/{sid}/join", as_=client, json_body={})
        await self.api.call("session", "POST", f"/sessions/{sid}/join", as_=clin, json_body={})
        await self.clock.sleep_until(start)
        started = await self.api.call("session", "POST", f"/sessions/{sid}/start", as_=clin)
        self.sessions_running += 1
        self.truth.started(cid, sid, scheduled_start)
        try:
            if "session-recording" in book.active_scopes and plan.index % 3 == 1:
                await self.api.call("session", "POST", f"/sessions/{sid}/recording", as_=clin)
            await self._feedback(book, sid, "ors", plan.ors)
            windows = await self._live(book, plan, sid, start, datetime.fromisoformat(started["started_at"]))
            if not self.clock.stopped.is_set():
                await self._feedback(book, sid, "srs", plan.srs)
            await self.api.call("session", "POST", f"/sessions/{sid}/leave", as_=client, json_body={}, ok=(409,))
            ended = await self.api.call("session", "POST", f"/sessions/{sid}/end", as_=clin)
        finally:
            self.sessions_running -= 1
        self.truth.ended(cid, sid, scheduled_end=scheduled_end, ended_at=datetime.fromisoformat(ended["ended_at"]))
        if windows:
            self.truth.telemetry(cid, sid, windows)
        return True

    async def _feedback(self, book: ClientBook, sid: str, instrument: str, items: tuple[int, int, int, int]) -> None:
        names = (
            ("individual", "interpersonal", "social", "overall")
            if instrument == "ors"
            else ("relationship", "goals_topics", "approach_method", "overall")
        )
        body = {"items": {n: v / 10 for n, v in zip(names, items, strict=True)}}
        await self.api.call(
            "session",
            "POST",
            f"/sessions/{sid}/feedback/{instrument}",
            as_=(book.client.client_id, "client"),
            json_body=body,
        )
        at = datetime.now(UTC)
        if instrument == "ors":
            self.truth.ors(book.client.client_id, sid, items, at)
        else:
            self.truth.srs(book.client.client_id, sid, items, at)

    async def _live(
        self, book: ClientBook, plan: SessionPlan, sid: str, start: datetime, started_at: datetime
    ) -> list[tuple[datetime, datetime, float, float, float]]:
        """Telemetry every simulated minute (batched when minutes are shorter than a quarter second), pulses at
        their minute, and the overrun. Returns the windows the session service accepted."""
        compressed = self.options.speed > 1
        group = max(1, math.ceil(0.25 * self.options.speed / 60)) if compressed else 1
        minute_s = 60.0 / self.options.speed
        # only boundary crossings (10+ minutes) are spent in real minutes; small overruns are compressed
        real_overrun = self.options.overrun_clock == "real" and plan.overrun_min >= REAL_OVERRUN_FROM_MIN
        scheduled_real_end = self.clock.real(start + timedelta(minutes=SESSION_MINUTES))
        total_minutes = SESSION_MINUTES + plan.overrun_min
        pending: list[dict[str, Any]] = []
        accepted: list[tuple[datetime, datetime, float, float, float]] = []
        batch_rows: list[tuple[datetime, datetime, float, float, float]] = []
        previous_end = max(started_at, self.clock.real(start))
        for minute in range(total_minutes):
            if minute < SESSION_MINUTES or not real_overrun:
                end = self.clock.real(start + timedelta(minutes=minute + 1))
                length = minute_s
            else:
                end = scheduled_real_end + timedelta(minutes=minute + 1 - SESSION_MINUTES)
                length = 60.0
            if not await self.clock.sleep_real((end - datetime.now(UTC)).total_seconds()):
                break
            sample = plan.telemetry[min(minute, SESSION_MINUTES - 1)]
            window_start = max(previous_end, end - timedelta(seconds=length))
            previous_end = end
            span = (end - window_start).total_seconds()
            if span <= 0:
                continue
            silence = min(sample.longest_silence_s * span / 60.0, span)
            pending.append(
                {
                    "session_id": sid,
                    "window_start": window_start.isoformat(),
                    "window_end": end.isoformat(),
                    "client_talk_ratio": sample.talk_ratio,
                    "client_camera_on_ratio": sample.camera_on_ratio,
                    "longest_silence_s": round(silence, 3),
                }
            )
            batch_rows.append((window_start, end, sample.talk_ratio, sample.camera_on_ratio, silence))
            for pulse in plan.pulses:
                if pulse.minute == minute + 1:
                    await self.api.call(
                        "session",
                        "POST",
                        f"/sessions/{sid}/feedback/pulse",
                        as_=(book.client.client_id, "client"),
                        json_body={"question": pulse.question, "score": pulse.score},
                    )
                    self.truth.pulse(book.client.client_id, sid, pulse.score, datetime.now(UTC))
            if len(pending) >= group or minute == total_minutes - 1 or minute >= SESSION_MINUTES - 1:
                if await self._post_telemetry(pending):
                    accepted += batch_rows
                pending, batch_rows = [], []
        if pending and await self._post_telemetry(pending):
            accepted += batch_rows
        return accepted

    async def _post_telemetry(self, windows: list[dict[str, Any]]) -> bool:
        out = await self.api.call("session", "POST", "/telemetry", as_=VIDEO_CLIENT, json_body={"windows": windows})
        self.truth.counts["telemetry_dropped_no_consent"] = self.truth.counts.get(
            "telemetry_dropped_no_consent", 0
        ) + int(out.get("dropped_no_consent", 0))
        return int(out.get("accepted", 0)) + int(out.get("duplicates", 0)) > 0

    async def _messages(self, book: ClientBook, plan: SessionPlan, start: datetime, next_start: datetime) -> None:
        """The week's messages, at seeded times between this session and the next one."""
        rng = random.Random(f"{self.population.seed}:{book.client.client_id}:{plan.index}:messages")
        after = start + timedelta(minutes=SESSION_MINUTES + 30)
        span = max((next_start - timedelta(hours=8) - after).total_seconds(), 60.0)
        timed = sorted(
            ((after + timedelta(seconds=rng.uniform(0, span)), m) for m in plan.messages_after), key=lambda x: x[0]
        )
        for at, message in timed:
            if not await self.clock.sleep_until(at):
                return
            await self._send(book, message.sender, message.kind, message.text)

    async def _send(self, book: ClientBook, sender: str, kind: str, text: str) -> None:
        clinician = book.clinician
        if sender == "clinician" and kind not in BOUNDARY_KINDS:
            off = outside_hours(datetime.now(UTC), clinician.timezone, clinician.working_hours)
            # an ordinary clinician writes in working hours; the after-hours habit writes outside them
            if off != (kind == "after-hours"):
                self.truth.counts["messages_held_back"] = self.truth.counts.get("messages_held_back", 0) + 1
                return
        caller = (book.client.client_id, "client") if sender == "client" else (clinician.clinician_id, "clinician")
        out = await self.api.call(
            "session",
            "POST",
            "/messages",
            as_=caller,
            json_body={"client_id": book.client.client_id, "body": text},
            idempotent=True,
        )
        self.truth.message(
            book.client.client_id,
            sender=sender,
            sent_at=datetime.fromisoformat(out["sent_at"]),
            flagged=kind in BOUNDARY_KINDS,
            scanned="message-scanning" in book.active_scopes,
        )
