"""How each event changes the state: the facts it adds, before any rule looks at them.

One transition per event type, registered in the table of the state it changes (clinician, client, pair);
an event type without one changes nothing. Every transition is idempotent (entries are keyed by event,
session or consent id) and order-free (lists are kept in event-time order, whatever the arrival order), so
redelivery and cross-topic reordering cannot make the state disagree with a replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.consent_timeline import ConsentTimeline
from rapport_alliance_monitor.domain.records import (
    AttendanceKind,
    AttendanceOutcome,
    EndedSession,
    MessageStamp,
    ScaleScore,
    SessionStart,
    TelemetryWindow,
)
from rapport_alliance_monitor.domain.state import (
    BaselineScore,
    ClientState,
    ClinicianState,
    Facts,
    WorkingInterval,
)
from rapport_common.events.consent import ConsentExpired, ConsentGranted, ConsentRevoked
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.feedback import OrsSubmitted, SrsSubmitted
from rapport_common.events.fields import tenths
from rapport_common.events.intake import (
    ClientRegistered,
    ClinicianAssigned,
    ClinicianRegistered,
    IntakeCompleted,
)
from rapport_common.events.session import (
    MessageSent,
    SessionCancelled,
    SessionEnded,
    SessionNoShow,
    SessionStarted,
    SessionTelemetry,
)

ClientTransition = Callable[[ClientState, Any], ClientState]
PairTransition = Callable[[Facts, Any, RulesConfig], Facts]
ClinicianTransition = Callable[[ClinicianState | None, Any], ClinicianState]

#: the transition of each event type that changes a clinician, a client, or a pair (and its client): the
#: engine dispatches on these, and the consumer's subscriptions list what they register
CLINICIAN_TRANSITIONS: dict[type[CloudEvent[Any]], ClinicianTransition] = {}
CLIENT_TRANSITIONS: dict[type[CloudEvent[Any]], ClientTransition] = {}
PAIR_TRANSITIONS: dict[type[CloudEvent[Any]], PairTransition] = {}

T = TypeVar("T", bound=Callable[..., Any])


def _on(table: dict[type[CloudEvent[Any]], Any], *event_types: type[CloudEvent[Any]]) -> Callable[[T], T]:
    def register(transition: T) -> T:
        for event_type in event_types:
            if event_type in table:
                raise ValueError(f"{event_type.event_type()} has a transition already")
            table[event_type] = transition
        return transition

    return register


def record_client_event(client: ClientState, event: CloudEvent[Any]) -> ClientState:
    """Intake and consent facts about one client (an event type without a transition changes nothing)."""
    transition = CLIENT_TRANSITIONS.get(type(event))
    return transition(client, event) if transition is not None else client


def record_pair_event(facts: Facts, event: CloudEvent[Any], config: RulesConfig) -> Facts:
    """Session and feedback facts about one pair (the intake baseline ORS goes to the client)."""
    transition = PAIR_TRANSITIONS.get(type(event))
    return transition(facts, event, config) if transition is not None else facts


# -- clinician ----------------------------------------------------------------------------------------------


@_on(CLINICIAN_TRANSITIONS, ClinicianRegistered)
def record_clinician(clinician: ClinicianState | None, event: ClinicianRegistered) -> ClinicianState:
    """The latest registration by event time describes the clinician."""
    if clinician is not None and clinician.registered_at > event.time:
        return clinician
    data = event.data
    return ClinicianState(
        clinician_id=data.clinician_id,
        timezone=data.timezone,
        working_hours=tuple(WorkingInterval(weekday=h.weekday, start=h.start, end=h.end) for h in data.working_hours),
        supervisor_id=data.supervisor_id,
        registered_at=event.time,
    )


# -- client: intake and consent -----------------------------------------------------------------------------


@_on(CLIENT_TRANSITIONS, ClientRegistered)
def _client_registered(client: ClientState, event: ClientRegistered) -> ClientState:
    return client.model_copy(update={"age_band": event.data.age_band, "timezone": event.data.timezone})


@_on(CLIENT_TRANSITIONS, IntakeCompleted)
def _intake_completed(client: ClientState, event: IntakeCompleted) -> ClientState:
    baseline = event.data.baseline_ors
    if baseline is None:
        return client
    return client.with_baseline(
        BaselineScore(
            response_id=baseline.response_id,
            total_tenths=tenths(baseline.total),
            age_band=baseline.age_band,
            at=event.time,
        )
    )


@_on(CLIENT_TRANSITIONS, ClinicianAssigned)
def _clinician_assigned(client: ClientState, event: ClinicianAssigned) -> ClientState:
    return client.with_assignment(event.data.clinician_id, event.data.assigned_at)


@_on(CLIENT_TRANSITIONS, ConsentGranted)
def _consent_granted(client: ClientState, event: ConsentGranted) -> ClientState:
    d = event.data
    return _with_consents(client, client.consents.with_grant(d.consent_id, d.scope, d.valid_from, d.valid_until))


@_on(CLIENT_TRANSITIONS, ConsentRevoked)
def _consent_revoked(client: ClientState, event: ConsentRevoked) -> ClientState:
    d = event.data
    return _with_consents(client, client.consents.with_revocation(d.consent_id, d.scope, d.effective_at))


@_on(CLIENT_TRANSITIONS, ConsentExpired)
def _consent_expired(client: ClientState, event: ConsentExpired) -> ClientState:
    d = event.data
    return _with_consents(client, client.consents.with_expiry(d.consent_id, d.scope, d.expired_at))


def _with_consents(client: ClientState, consents: ConsentTimeline) -> ClientState:
    return client.model_copy(update={"consents": consents})


# -- pair: sessions, messages and feedback ------------------------------------------------------------------


@_on(PAIR_TRANSITIONS, SessionStarted)
def _session_started(facts: Facts, event: SessionStarted, config: RulesConfig) -> Facts:
    started = event.data
    pair = facts.pair.with_session_start(SessionStart(session_id=started.session_id, event_id=event.id, at=event.time))
    # started carries no scheduled start; the actual start stands in for it when ordering outcomes
    return replace(
        facts, pair=pair.with_attendance(_outcome(event, started.session_id, started.started_at, "attended"))
    )


@_on(PAIR_TRANSITIONS, SessionNoShow)
def _no_show(facts: Facts, event: SessionNoShow, config: RulesConfig) -> Facts:
    outcome = _outcome(event, event.data.session_id, event.data.scheduled_start, "withdrawal")
    return replace(facts, pair=facts.pair.with_attendance(outcome))


@_on(PAIR_TRANSITIONS, SessionCancelled)
def _cancelled(facts: Facts, event: SessionCancelled, config: RulesConfig) -> Facts:
    cancelled = event.data
    kind: AttendanceKind = "withdrawal" if cancelled.late and cancelled.cancelled_by == "client" else "neutral"
    outcome = _outcome(event, cancelled.session_id, cancelled.scheduled_start, kind)
    return replace(facts, pair=facts.pair.with_attendance(outcome))


@_on(PAIR_TRANSITIONS, SessionEnded)
def _ended(facts: Facts, event: SessionEnded, config: RulesConfig) -> Facts:
    ended = event.data
    over_s = (ended.ended_at - ended.scheduled_end).total_seconds()
    session = EndedSession(session_id=ended.session_id, event_id=event.id, ended_at=ended.ended_at, over_s=over_s)
    return replace(facts, pair=facts.pair.with_ended(session))


@_on(PAIR_TRANSITIONS, SessionTelemetry)
def _telemetry(facts: Facts, event: SessionTelemetry, config: RulesConfig) -> Facts:
    telemetry = event.data
    window = TelemetryWindow(
        event_id=event.id,
        session_id=telemetry.session_id,
        window_start=telemetry.window_start,
        window_end=telemetry.window_end,
        talk_ratio=telemetry.client_talk_ratio,
        camera_on_ratio=telemetry.client_camera_on_ratio,
        longest_silence_s=telemetry.longest_silence_s,
    )
    lookback = timedelta(minutes=config.telemetry.lookback_minutes)
    return replace(facts, pair=facts.pair.with_telemetry(window, lookback))


@_on(PAIR_TRANSITIONS, MessageSent)
def _message(facts: Facts, event: MessageSent, config: RulesConfig) -> Facts:
    if not _off_hours(facts.clinician, event):
        return facts
    stamp = MessageStamp(event_id=event.id, at=event.data.sent_at)
    return replace(facts, pair=facts.pair.with_off_hours_message(stamp, timedelta(days=config.off_hours.window_days)))


@_on(PAIR_TRANSITIONS, SrsSubmitted)
def _srs(facts: Facts, event: SrsSubmitted, config: RulesConfig) -> Facts:
    return replace(facts, pair=facts.pair.with_srs(_score(event)))


@_on(PAIR_TRANSITIONS, OrsSubmitted)
def _ors(facts: Facts, event: OrsSubmitted, config: RulesConfig) -> Facts:
    ors = event.data
    if ors.session_id is not None:
        return replace(facts, pair=facts.pair.with_ors(_score(event)))
    baseline = BaselineScore(
        response_id=ors.response_id, total_tenths=tenths(ors.total), age_band=ors.age_band, at=event.time
    )
    return replace(facts, client=facts.client.with_baseline(baseline))


def _outcome(
    event: CloudEvent[Any], session_id: str, scheduled_start: datetime, kind: AttendanceKind
) -> AttendanceOutcome:
    return AttendanceOutcome(session_id=session_id, event_id=event.id, scheduled_start=scheduled_start, kind=kind)


def _score(event: SrsSubmitted | OrsSubmitted) -> ScaleScore:
    return ScaleScore(
        event_id=event.id, session_id=event.data.session_id, at=event.time, total_tenths=tenths(event.data.total)
    )


def _off_hours(clinician: ClinicianState | None, event: MessageSent) -> bool:
    """A clinician-sent message outside working hours. Unknown working hours judge nothing."""
    d = event.data
    if d.sender != "clinician" or clinician is None or clinician.clinician_id != d.clinician_id:
        return False
    return not clinician.works_at(d.sent_at)
