"""What the monitor remembers, as three JSON documents the wiring stores in jsonb columns.

- :class:`ClientState` (key: client id): consent timeline, age band, assignment, intake baseline ORS.
- :class:`ClinicianState` (key: clinician id): timezone and working hours. ``clinician-registered`` is
  keyed by clinician, not by client, so it has its own row instead of being copied into every pair.
- :class:`PairState` (key: client id + clinician id): the bounded history the rules read, the open
  condition alerts, and the recent event ids used to ignore redeliveries.

All three are frozen; every ``with_*`` method returns a new value (copy-on-write), so an unchanged part
keeps its identity and the wiring can skip writing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rapport_alliance_monitor.domain.alerts import AlertDecision, Raise, Resolve, Update
from rapport_alliance_monitor.domain.consent_timeline import ConsentTimeline
from rapport_alliance_monitor.domain.records import (
    ATTENDANCE_LIMIT,
    ENDED_LIMIT,
    EVIDENCE_LIMIT,
    OFF_HOURS_LIMIT,
    ORS_LIMIT,
    RECENT_EVENT_LIMIT,
    SESSION_ALERT_LIMIT,
    SESSION_START_LIMIT,
    SRS_LIMIT,
    TELEMETRY_LIMIT,
    AttendanceOutcome,
    EndedSession,
    MessageStamp,
    OpenAlert,
    ScaleScore,
    SessionAlert,
    SessionStart,
    StateModel,
    TelemetryWindow,
    bounded_insert,
)
from rapport_common.events.feedback import AgeBand

SCHEMA_VERSION = 1


class WorkingInterval(StateModel):
    """``[start, end)`` on ``weekday`` (0 = Monday) in the clinician's timezone; ``end`` may be 24:00."""

    weekday: int
    start: str
    end: str

    def contains(self, weekday: int, seconds: float) -> bool:
        return weekday == self.weekday and _seconds(self.start) <= seconds < _seconds(self.end)


def _seconds(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


class ClinicianState(StateModel):
    schema_version: int = SCHEMA_VERSION
    clinician_id: str
    timezone: str
    working_hours: tuple[WorkingInterval, ...] = ()
    supervisor_id: str | None = None
    #: event time of the registration this reflects; an older one arriving late is ignored
    registered_at: datetime

    def works_at(self, at: datetime) -> bool:
        """Whether ``at`` falls in a working interval, read on the clinician's wall clock (DST included)."""
        local = at.astimezone(ZoneInfo(self.timezone))
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return any(interval.contains(local.weekday(), seconds) for interval in self.working_hours)


class BaselineScore(StateModel):
    """The client's intake ORS, the reference for deterioration and reliable improvement."""

    response_id: str
    total_tenths: int
    age_band: AgeBand
    at: datetime


class ClientState(StateModel):
    schema_version: int = SCHEMA_VERSION
    client_id: str
    age_band: AgeBand | None = None
    timezone: str | None = None
    clinician_id: str | None = None
    assigned_at: datetime | None = None
    baseline: BaselineScore | None = None
    consents: ConsentTimeline = ConsentTimeline()

    def with_baseline(self, baseline: BaselineScore) -> ClientState:
        """The latest intake baseline by event time wins (a new intake resets the reference)."""
        if self.baseline is not None and self.baseline.at > baseline.at:
            return self
        return self.model_copy(update={"baseline": baseline})

    def with_assignment(self, clinician_id: str, assigned_at: datetime) -> ClientState:
        if self.assigned_at is not None and self.assigned_at > assigned_at:
            return self
        return self.model_copy(update={"clinician_id": clinician_id, "assigned_at": assigned_at})


class PairState(StateModel):
    schema_version: int = SCHEMA_VERSION
    client_id: str
    clinician_id: str
    recent_event_ids: tuple[str, ...] = ()
    #: the earliest session starts by event time (session numbers 1..SESSION_START_LIMIT)
    session_starts: tuple[SessionStart, ...] = ()
    srs: tuple[ScaleScore, ...] = ()
    ors: tuple[ScaleScore, ...] = ()
    #: keyed by session, ordered by scheduled start
    attendance: tuple[AttendanceOutcome, ...] = ()
    #: ordered by ended_at
    ended: tuple[EndedSession, ...] = ()
    off_hours_messages: tuple[MessageStamp, ...] = ()
    telemetry: tuple[TelemetryWindow, ...] = ()
    open_alerts: tuple[OpenAlert, ...] = ()
    session_alerts: tuple[SessionAlert, ...] = ()
    #: the latest event time the pair has been judged on by the live monitor (an earlier event arriving after
    #: it is late data: counted, still processed)
    judged_until: datetime | None = None

    # -- redeliveries ---------------------------------------------------------------------------------

    def has_seen(self, event_id: str) -> bool:
        return event_id in self.recent_event_ids

    def remembering(self, event_id: str) -> PairState:
        ids = (*self.recent_event_ids, event_id)[-RECENT_EVENT_LIMIT:]
        return self.model_copy(update={"recent_event_ids": ids})

    # -- sessions -------------------------------------------------------------------------------------

    def with_session_start(self, start: SessionStart) -> PairState:
        starts = bounded_insert(
            self.session_starts,
            start,
            order=lambda s: (s.at, s.session_id),
            same=lambda s: s.session_id,
            limit=SESSION_START_LIMIT,
            keep="earliest",
        )
        return self.model_copy(update={"session_starts": starts})

    def session_number(self, session_id: str | None, at: datetime) -> int:
        """The pair's number for ``session_id``: its rank among session starts by event time.

        A session whose start has not been seen (yet) is taken as the next one after the starts at or
        before ``at``. Beyond the kept starts the exact number is unknown but larger than all of them.
        """
        for number, start in enumerate(self.session_starts, start=1):
            if start.session_id == session_id:
                return number
        if len(self.session_starts) >= SESSION_START_LIMIT:
            return SESSION_START_LIMIT + 1
        return 1 + sum(1 for start in self.session_starts if start.at <= at)

    def with_attendance(self, outcome: AttendanceOutcome) -> PairState:
        attendance = bounded_insert(
            self.attendance,
            outcome,
            order=lambda o: (o.scheduled_start, o.session_id),
            same=lambda o: o.session_id,
            limit=ATTENDANCE_LIMIT,
        )
        return self.model_copy(update={"attendance": attendance})

    def with_ended(self, ended: EndedSession) -> PairState:
        history = bounded_insert(
            self.ended,
            ended,
            order=lambda e: (e.ended_at, e.session_id),
            same=lambda e: e.session_id,
            limit=ENDED_LIMIT,
        )
        return self.model_copy(update={"ended": history})

    def with_telemetry(self, window: TelemetryWindow, lookback: timedelta) -> PairState:
        """Keeps only windows ending within ``lookback`` of the latest one: all the telemetry rule reads."""
        windows = bounded_insert(
            self.telemetry,
            window,
            order=lambda w: (w.window_end, w.event_id),
            same=lambda w: w.event_id,
            limit=TELEMETRY_LIMIT,
        )
        horizon = windows[-1].window_end - lookback
        return self.model_copy(update={"telemetry": tuple(w for w in windows if w.window_end > horizon)})

    # -- feedback -------------------------------------------------------------------------------------

    def with_srs(self, score: ScaleScore) -> PairState:
        return self.model_copy(update={"srs": _scores_with(self.srs, score, SRS_LIMIT)})

    def with_ors(self, score: ScaleScore) -> PairState:
        return self.model_copy(update={"ors": _scores_with(self.ors, score, ORS_LIMIT)})

    # -- messages -------------------------------------------------------------------------------------

    def with_off_hours_message(self, stamp: MessageStamp, window: timedelta) -> PairState:
        """Keeps the messages that can still share a ``window`` with the latest one."""
        stamps = bounded_insert(
            self.off_hours_messages,
            stamp,
            order=lambda m: (m.at, m.event_id),
            same=lambda m: m.event_id,
            limit=OFF_HOURS_LIMIT,
        )
        horizon = stamps[-1].at - window
        return self.model_copy(update={"off_hours_messages": tuple(m for m in stamps if m.at > horizon)})

    # -- alerts ---------------------------------------------------------------------------------------

    def open_alert(self, rule: str, scope: str | None = None) -> OpenAlert | None:
        for alert in self.open_alerts:
            if alert.rule == rule and alert.scope == scope:
                return alert
        return None

    def has_session_alert(self, rule: str, session_id: str) -> bool:
        return SessionAlert(rule=rule, session_id=session_id) in self.session_alerts

    def with_decisions(self, decisions: Iterable[AlertDecision]) -> PairState:
        """Books what was decided: condition alerts open/grow/close, per-session rules mark their session."""
        decisions = tuple(decisions)
        if not decisions:
            return self
        open_alerts = list(self.open_alerts)
        session_alerts = list(self.session_alerts)
        for decision in decisions:
            if isinstance(decision, Raise):
                if decision.kind == "condition":
                    evidence = decision.evidence[-EVIDENCE_LIMIT:]
                    open_alerts.append(
                        OpenAlert(
                            alert_id=decision.alert_id, rule=decision.rule, scope=decision.scope, evidence=evidence
                        )
                    )
                elif decision.kind == "per-session" and decision.session_id is not None:
                    session_alerts.append(SessionAlert(rule=decision.rule, session_id=decision.session_id))
            elif isinstance(decision, Update):
                open_alerts = [
                    a.model_copy(update={"evidence": (*a.evidence, *decision.added_evidence)[-EVIDENCE_LIMIT:]})
                    if a.alert_id == decision.alert_id
                    else a
                    for a in open_alerts
                ]
            elif isinstance(decision, Resolve):
                open_alerts = [a for a in open_alerts if a.alert_id != decision.alert_id]
        return self.model_copy(
            update={
                "open_alerts": tuple(open_alerts),
                "session_alerts": tuple(session_alerts[-SESSION_ALERT_LIMIT:]),
            }
        )

    def close_alert(self, alert_id: str) -> PairState:
        """A person resolved ``alert_id``: the next time its condition holds, a new episode is raised."""
        return self.model_copy(update={"open_alerts": tuple(a for a in self.open_alerts if a.alert_id != alert_id)})


def _scores_with(scores: tuple[ScaleScore, ...], score: ScaleScore, limit: int) -> tuple[ScaleScore, ...]:
    return bounded_insert(scores, score, order=lambda s: (s.at, s.event_id), same=lambda s: s.event_id, limit=limit)


@dataclass(frozen=True, slots=True)
class MonitorState:
    """The rows one event reads and writes; a part is None when the event needs it and no row exists yet."""

    client: ClientState | None = None
    pair: PairState | None = None
    clinician: ClinicianState | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """The state as the rules read it: the event's facts already recorded, the alert bookkeeping as it was
    before the event (so a rule can tell whether its alert is open)."""

    client: ClientState
    pair: PairState
    clinician: ClinicianState | None = None
