"""How each event changes the state: the facts it adds, before any rule looks at them.

Every transition is idempotent (entries are keyed by event, session or consent id) and order-free (lists
are kept in event-time order, whatever the arrival order), so redelivery and cross-topic reordering
cannot make the state disagree with a replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rapport_alliance_monitor.domain.config import RulesConfig
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


def record_client_event(client: ClientState, event: CloudEvent[Any]) -> ClientState:
    """Intake and consent facts about one client."""
    if isinstance(event, ClientRegistered):
        return client.model_copy(update={"age_band": event.data.age_band, "timezone": event.data.timezone})
    if isinstance(event, IntakeCompleted):
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
    if isinstance(event, ClinicianAssigned):
        return client.with_assignment(event.data.clinician_id, event.data.assigned_at)
    if isinstance(event, ConsentGranted):
        d = event.data
        consents = client.consents.with_grant(d.consent_id, d.scope, d.valid_from, d.valid_until)
    elif isinstance(event, ConsentRevoked):
        consents = client.consents.with_revocation(event.data.consent_id, event.data.scope, event.data.effective_at)
    elif isinstance(event, ConsentExpired):
        consents = client.consents.with_expiry(event.data.consent_id, event.data.scope, event.data.expired_at)
    else:
        return client
    return client.model_copy(update={"consents": consents})


def record_pair_event(facts: Facts, event: CloudEvent[Any], config: RulesConfig) -> Facts:
    """Session and feedback facts about one pair (the intake baseline ORS goes to the client)."""
    pair, client = facts.pair, facts.client
    if isinstance(event, SessionStarted):
        started = event.data
        pair = pair.with_session_start(SessionStart(session_id=started.session_id, event_id=event.id, at=event.time))
        # started carries no scheduled start; the actual start stands in for it when ordering outcomes
        pair = pair.with_attendance(_outcome(event, started.session_id, started.started_at, "attended"))
    elif isinstance(event, SessionNoShow):
        pair = pair.with_attendance(_outcome(event, event.data.session_id, event.data.scheduled_start, "withdrawal"))
    elif isinstance(event, SessionCancelled):
        cancelled = event.data
        kind: AttendanceKind = "withdrawal" if cancelled.late and cancelled.cancelled_by == "client" else "neutral"
        pair = pair.with_attendance(_outcome(event, cancelled.session_id, cancelled.scheduled_start, kind))
    elif isinstance(event, SessionEnded):
        ended = event.data
        over_s = (ended.ended_at - ended.scheduled_end).total_seconds()
        pair = pair.with_ended(
            EndedSession(session_id=ended.session_id, event_id=event.id, ended_at=ended.ended_at, over_s=over_s)
        )
    elif isinstance(event, SessionTelemetry):
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
        pair = pair.with_telemetry(window, timedelta(minutes=config.telemetry.lookback_minutes))
    elif isinstance(event, MessageSent):
        if _off_hours(facts.clinician, event):
            stamp = MessageStamp(event_id=event.id, at=event.data.sent_at)
            pair = pair.with_off_hours_message(stamp, timedelta(days=config.off_hours.window_days))
    elif isinstance(event, SrsSubmitted):
        pair = pair.with_srs(_score(event))
    elif isinstance(event, OrsSubmitted):
        ors = event.data
        if ors.session_id is None:
            baseline = BaselineScore(
                response_id=ors.response_id, total_tenths=tenths(ors.total), age_band=ors.age_band, at=event.time
            )
            client = client.with_baseline(baseline)
        else:
            pair = pair.with_ors(_score(event))
    return Facts(client=client, pair=pair, clinician=facts.clinician)


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
