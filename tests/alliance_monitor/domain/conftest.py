"""Fixtures for the alliance-monitor domain: contract events, and a monitor run the way the wiring will.

``Monitor`` keeps client, pair and clinician rows as JSON strings (as in jsonb columns), loads the rows
``state_keys`` names, asks the consent gate, holds ``unknown-yet`` events, and evaluates the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rapport_alliance_monitor.domain import (
    AlertDecision,
    ClientState,
    ClinicianState,
    MonitorState,
    PairState,
    Raise,
    RulesConfig,
    decide,
    evaluate,
    state_keys,
)
from rapport_common.events.catalog import OWNER_OF_TOPIC
from rapport_common.events.consent import (
    ConsentExpired,
    ConsentExpiredData,
    ConsentGranted,
    ConsentGrantedData,
    ConsentRevoked,
    ConsentRevokedData,
    GrantedBy,
    RevokedBy,
)
from rapport_common.events.envelope import CloudEvent, new_event
from rapport_common.events.feedback import (
    OrsItems,
    OrsSubmitted,
    OrsSubmittedData,
    PulseSubmitted,
    PulseSubmittedData,
    SrsItems,
    SrsSubmitted,
    SrsSubmittedData,
    WaiSubmitted,
    WaiSubmittedData,
)
from rapport_common.events.fields import tenths
from rapport_common.events.intake import (
    BaselineOrs,
    ClientRegistered,
    ClientRegisteredData,
    ClinicianAssigned,
    ClinicianAssignedData,
    ClinicianRegistered,
    ClinicianRegisteredData,
    IntakeCompleted,
    IntakeCompletedData,
    WorkingHours,
)
from rapport_common.events.session import (
    MessageSent,
    MessageSentData,
    NoShowData,
    OverrunData,
    RecordingStarted,
    RecordingStartedData,
    SessionCancelled,
    SessionCancelledData,
    SessionEnded,
    SessionEndedData,
    SessionNoShow,
    SessionOverrun,
    SessionStarted,
    SessionStartedData,
    SessionTelemetry,
    TelemetryData,
)

CLIENT = "client-1"
CLINICIAN = "clinician-1"
#: a Monday, 09:00 UTC
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: every scope the monitor gates on, granted well before T0
ANALYSED_SCOPES = (
    "telehealth-treatment",
    "session-recording",
    "measurement-feedback",
    "alliance-analytics",
    "message-scanning",
)
WEEKDAYS_9_TO_17 = [(day, "09:00", "17:00") for day in range(5)]


def items_for(total: float) -> tuple[float, float, float, float]:
    """Four one-decimal items summing exactly to ``total``."""
    t = tenths(total)
    base, extra = divmod(t, 4)
    return tuple((base + (1 if i < extra else 0)) / 10 for i in range(4))  # type: ignore[return-value]


class Events:
    """Builds contract events about one client and one clinician (override per call when needed)."""

    T0 = T0
    ANALYSED_SCOPES = ANALYSED_SCOPES
    items_for = staticmethod(items_for)

    def __init__(self, client_id: str = CLIENT, clinician_id: str = CLINICIAN) -> None:
        self.client_id = client_id
        self.clinician_id = clinician_id
        self._responses = 0

    def _event(self, cls: type[Any], data: Any, at: datetime, subject: str | None = None, **kw: Any) -> Any:
        source = OWNER_OF_TOPIC[cls.topic]  # consumers dead-letter any other source (EVENTS.md v1.1)
        return new_event(cls, subject=subject or self.client_id, source=source, data=data, time=at, **kw)

    def _response_id(self) -> str:
        self._responses += 1
        return f"response-{self._responses}"

    # consent --------------------------------------------------------------------------------------------
    def grant(
        self,
        scope: str,
        *,
        valid_from: datetime = T0 - timedelta(days=1),
        valid_until: datetime | None = None,
        consent_id: str | None = None,
        at: datetime | None = None,
    ) -> ConsentGranted:
        data = ConsentGrantedData(
            consent_id=consent_id or f"consent-{scope}",
            client_id=self.client_id,
            scope=scope,
            granted_by=GrantedBy(actor_id=self.client_id, role="client"),
            method="e-signature",
            document_version="v1",
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return self._event(ConsentGranted, data, at or valid_from)

    def revoke(self, scope: str, *, effective_at: datetime, consent_id: str | None = None) -> ConsentRevoked:
        data = ConsentRevokedData(
            consent_id=consent_id or f"consent-{scope}",
            client_id=self.client_id,
            scope=scope,
            revoked_by=RevokedBy(actor_id=self.client_id, role="client"),
            effective_at=effective_at,
        )
        return self._event(ConsentRevoked, data, effective_at)

    def expire(self, scope: str, *, expired_at: datetime, consent_id: str | None = None) -> ConsentExpired:
        data = ConsentExpiredData(
            consent_id=consent_id or f"consent-{scope}", client_id=self.client_id, scope=scope, expired_at=expired_at
        )
        return self._event(ConsentExpired, data, expired_at)

    # intake ---------------------------------------------------------------------------------------------
    def clinician(
        self,
        *,
        timezone: str = "Europe/Berlin",
        hours: Sequence[tuple[int, str, str]] = WEEKDAYS_9_TO_17,
        at: datetime = T0 - timedelta(days=30),
    ) -> ClinicianRegistered:
        data = ClinicianRegisteredData(
            clinician_id=self.clinician_id,
            display_name="Dr Test",
            timezone=timezone,
            working_hours=[WorkingHours(weekday=d, start=s, end=e) for d, s, e in hours],
        )
        return self._event(ClinicianRegistered, data, at, subject=self.clinician_id)

    def client_registered(self, age_band: str = "adult", at: datetime = T0 - timedelta(days=20)) -> ClientRegistered:
        data = ClientRegisteredData(client_id=self.client_id, age_band=age_band, timezone="Europe/Berlin")
        return self._event(ClientRegistered, data, at)

    def assigned(self, at: datetime = T0 - timedelta(days=15)) -> ClinicianAssigned:
        data = ClinicianAssignedData(client_id=self.client_id, clinician_id=self.clinician_id, assigned_at=at)
        return self._event(ClinicianAssigned, data, at)

    def intake(
        self, baseline: float | None, *, age_band: str = "adult", at: datetime = T0 - timedelta(days=10)
    ) -> IntakeCompleted:
        baseline_ors = None
        if baseline is not None:
            i = items_for(baseline)
            baseline_ors = BaselineOrs(
                response_id=self._response_id(),
                client_id=self.client_id,
                items=OrsItems(individual=i[0], interpersonal=i[1], social=i[2], overall=i[3]),
                total=baseline,
                age_band=age_band,
            )
        data = IntakeCompletedData(
            client_id=self.client_id,
            intake_id="intake-1",
            presenting_concerns=["low mood"],
            goals=["sleep better"],
            baseline_ors=baseline_ors,
        )
        return self._event(IntakeCompleted, data, at)

    # sessions -------------------------------------------------------------------------------------------
    def _ids(self, session_id: str) -> dict[str, str]:
        return {"session_id": session_id, "client_id": self.client_id, "clinician_id": self.clinician_id}

    def started(self, session_id: str, at: datetime, **kw: Any) -> SessionStarted:
        return self._event(SessionStarted, SessionStartedData(**self._ids(session_id), started_at=at), at, **kw)

    def no_show(self, session_id: str, scheduled_start: datetime) -> SessionNoShow:
        data = NoShowData(**self._ids(session_id), scheduled_start=scheduled_start)
        return self._event(SessionNoShow, data, scheduled_start + timedelta(minutes=15))

    def cancelled(
        self, session_id: str, scheduled_start: datetime, *, by: str = "client", late: bool = True
    ) -> SessionCancelled:
        cancelled_at = scheduled_start - timedelta(hours=2 if late else 48)
        data = SessionCancelledData(
            **self._ids(session_id),
            scheduled_start=scheduled_start,
            cancelled_at=cancelled_at,
            cancelled_by=by,
            late=late,
        )
        return self._event(SessionCancelled, data, cancelled_at)

    def ended(self, session_id: str, scheduled_start: datetime, *, minutes_over: float = 0.0) -> SessionEnded:
        scheduled_end = scheduled_start + timedelta(minutes=50)
        ended_at = scheduled_end + timedelta(minutes=minutes_over)
        data = SessionEndedData(
            **self._ids(session_id),
            started_at=scheduled_start,
            ended_at=ended_at,
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            ended_by="clinician",
        )
        return self._event(SessionEnded, data, ended_at)

    def overrun(self, session_id: str, minutes_over: int, scheduled_end: datetime = T0) -> SessionOverrun:
        data = OverrunData(**self._ids(session_id), scheduled_end=scheduled_end, minutes_over=minutes_over)
        return self._event(SessionOverrun, data, scheduled_end + timedelta(minutes=minutes_over))

    def telemetry(
        self,
        session_id: str,
        window_end: datetime,
        *,
        minutes: float = 1.0,
        talk: float = 0.5,
        camera: float = 1.0,
        silence: float = 0.0,
    ) -> SessionTelemetry:
        data = TelemetryData(
            **self._ids(session_id),
            window_start=window_end - timedelta(minutes=minutes),
            window_end=window_end,
            client_talk_ratio=talk,
            client_camera_on_ratio=camera,
            longest_silence_s=silence,
        )
        return self._event(SessionTelemetry, data, window_end)

    def recording(self, session_id: str, at: datetime) -> RecordingStarted:
        return self._event(RecordingStarted, RecordingStartedData(**self._ids(session_id), started_at=at), at)

    def message(self, at: datetime, *, sender: str = "clinician", flags: Iterable[str] = ()) -> MessageSent:
        data = MessageSentData(
            message_id=f"message-{at.isoformat()}",
            client_id=self.client_id,
            clinician_id=self.clinician_id,
            sender=sender,
            sent_at=at,
            flags=list(flags),
        )
        return self._event(MessageSent, data, at)

    # feedback -------------------------------------------------------------------------------------------
    def _feedback(self, session_id: str | None) -> dict[str, Any]:
        return {
            "response_id": self._response_id(),
            "client_id": self.client_id,
            "clinician_id": self.clinician_id,
            "session_id": session_id,
        }

    def srs(
        self,
        total: float | None = None,
        *,
        session_id: str | None,
        at: datetime,
        items: tuple[float, float, float, float] | None = None,
        comment: str | None = None,
    ) -> SrsSubmitted:
        i = items or items_for(total if total is not None else 40.0)
        srs_items = SrsItems(relationship=i[0], goals_topics=i[1], approach_method=i[2], overall=i[3])
        data = SrsSubmittedData(
            **self._feedback(session_id),
            items=srs_items,
            total=srs_items.total_tenths() / 10,
            comment=comment,
        )
        return self._event(SrsSubmitted, data, at)

    def ors(self, total: float, *, session_id: str | None, at: datetime, age_band: str = "adult") -> OrsSubmitted:
        i = items_for(total)
        data = OrsSubmittedData(
            **self._feedback(session_id),
            items=OrsItems(individual=i[0], interpersonal=i[1], social=i[2], overall=i[3]),
            total=total,
            age_band=age_band,
        )
        return self._event(OrsSubmitted, data, at)

    def pulse(self, score: int, *, session_id: str, at: datetime, question: str = "felt-heard") -> PulseSubmitted:
        data = PulseSubmittedData(**self._feedback(session_id), question=question, score=score)
        return self._event(PulseSubmitted, data, at)

    def wai(self, *, session_id: str, at: datetime) -> WaiSubmitted:
        data = WaiSubmittedData(**self._feedback(session_id), items=[4] * 12, goal=16, task=16, bond=16)
        return self._event(WaiSubmitted, data, at)


class Decisions(list[AlertDecision]):
    """Decisions with compact accessors for assertions."""

    def kinds(self) -> list[tuple[str, str]]:
        """(Raise|Update|Resolve, rule) per decision."""
        return [(type(d).__name__, d.rule) for d in self]

    def of(self, rule: str) -> list[AlertDecision]:
        return [d for d in self if d.rule == rule]

    def raised(self, rule: str) -> Raise:
        """The single Raise of ``rule``."""
        found = [d for d in self if isinstance(d, Raise) and d.rule == rule]
        assert len(found) == 1, self.kinds()
        return found[0]


class Monitor:
    """The domain driven like the wiring will drive it, with rows stored as JSON strings."""

    def __init__(self, config: RulesConfig | None = None) -> None:
        self.config = config or RulesConfig()
        self.clients: dict[str, str] = {}
        self.pairs: dict[tuple[str, str], str] = {}
        self.clinicians: dict[str, str] = {}
        self.held: list[CloudEvent[Any]] = []
        self.published = Decisions()

    def load(self, event: CloudEvent[Any]) -> MonitorState:
        keys = state_keys(event)
        client = self.clients.get(keys.client_id or "")
        clinician = self.clinicians.get(keys.clinician_id or "")
        pair = self.pairs.get((keys.client_id or "", keys.clinician_id or "")) if keys.pair else None
        return MonitorState(
            client=ClientState.from_json(client) if client else None,
            pair=PairState.from_json(pair) if pair else None,
            clinician=ClinicianState.from_json(clinician) if clinician else None,
        )

    def feed(self, *events: CloudEvent[Any], hold_expired: bool = True) -> Decisions:
        """Evaluate ``events`` in order; with ``hold_expired=False`` undecided ones are held."""
        decisions = Decisions()
        for event in events:
            state = self.load(event)
            decision = decide(state.client, event, hold_expired=hold_expired)
            if not decision.final:
                self.held.append(event)
                continue
            result = evaluate(state, event, self.config, consent_decision=decision)
            self._store(event, state, result.new_state)
            decisions += result.decisions
        self.published += decisions
        return decisions

    def release(self, *, hold_expired: bool) -> Decisions:
        """Ask the gate again for every held event (a consent arrived, or the hold ended)."""
        held, self.held = self.held, []
        return self.feed(*held, hold_expired=hold_expired)

    def _store(self, event: CloudEvent[Any], before: MonitorState, after: MonitorState) -> None:
        keys = state_keys(event)
        if after.client is not None and after.client is not before.client:
            self.clients[after.client.client_id] = after.client.to_json()
        if after.clinician is not None and after.clinician is not before.clinician:
            self.clinicians[after.clinician.clinician_id] = after.clinician.to_json()
        if keys.pair and after.pair is not None and after.pair is not before.pair:
            self.pairs[(after.pair.client_id, after.pair.clinician_id)] = after.pair.to_json()

    def pair(self, client_id: str = CLIENT, clinician_id: str = CLINICIAN) -> PairState:
        return PairState.from_json(self.pairs[(client_id, clinician_id)])

    def client(self, client_id: str = CLIENT) -> ClientState:
        return ClientState.from_json(self.clients[client_id])

    def resolve_by_person(self, alert_id: str, client_id: str = CLIENT, clinician_id: str = CLINICIAN) -> None:
        self.pairs[(client_id, clinician_id)] = self.pair(client_id, clinician_id).close_alert(alert_id).to_json()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def make_monitor(events: Events) -> Callable[..., Monitor]:
    """A monitor with ``config``, where the client consented to ``scopes`` and the clinician is registered."""

    def make(config: RulesConfig | None = None, scopes: Iterable[str] = ANALYSED_SCOPES) -> Monitor:
        monitor = Monitor(config)
        monitor.feed(
            events.clinician(),
            events.client_registered(),
            events.assigned(),
            *(events.grant(scope) for scope in scopes),
        )
        return monitor

    return make


@pytest.fixture
def monitor(make_monitor: Callable[..., Monitor]) -> Monitor:
    """Default rules; every analysed scope consented; clinician in Europe/Berlin, weekdays 09:00-17:00."""
    return make_monitor()


@pytest.fixture
def new_monitor() -> type[Monitor]:
    """The Monitor class, for tests that need many fresh monitors (property tests)."""
    return Monitor


@pytest.fixture
def bare_monitor() -> Monitor:
    """A monitor that knows nothing yet: no consents, no clinician."""
    return Monitor()
