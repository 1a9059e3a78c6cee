"""Consent gates analysis, on event time (DOMAIN.md).

Every client event needs one *analysis* scope: feedback ``measurement-feedback``, telemetry
``alliance-analytics``, everything else ``telehealth-treatment``. Some events need a further scope for one
of their facts: a recording needs ``session-recording``, a message's flags need ``message-scanning``.
Intake and consent events (and the monitor's own alert events) are not gated.

Topics are not ordered against each other, so a grant may arrive after the events it covers. The gate
therefore answers ``unknown-yet`` while a hold is still running; the wiring keeps such an event (default
10 s of processing time, ``RulesConfig.consent.hold_seconds``), asks again when a consent event for the
client arrives, and asks with ``hold_expired=True`` when the hold ends. Nothing is dropped silently: a
``not-covered`` event is still evaluated, and raises ``consent-violation`` where DOMAIN.md says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rapport_alliance_monitor.domain.consent_timeline import ConsentTimeline
from rapport_alliance_monitor.domain.state import ClientState
from rapport_common.events import alerts, consent, feedback, intake
from rapport_common.events.catalog import EVENT_CLASSES
from rapport_common.events.consent import ConsentScope
from rapport_common.events.envelope import CloudEvent
from rapport_common.events.session import MessageSent, RecordingStarted, SessionStarted, SessionTelemetry

ConsentStatus = Literal["covered", "not-covered", "unknown-yet"]

_UNGATED_TOPICS = frozenset({intake.TOPIC, consent.TOPIC, alerts.TOPIC})


def is_active(timeline: ConsentTimeline, scope: ConsentScope, t: datetime) -> bool:
    """A consent of ``scope`` granted with valid_from <= t < valid_until, not revoked or expired by t.

    A revocation (or expiry) ends the consent it names from its effective time on; a later grant of the
    same scope is a new consent and is active again.
    """
    return any(
        record.scope == scope
        and record.valid_from is not None
        and record.valid_from <= t
        and (record.valid_until is None or t < record.valid_until)
        and (record.revoked_at is None or t < record.revoked_at)
        and (record.expired_at is None or t < record.expired_at)
        for record in timeline.records
    )


def analysis_scope(event: CloudEvent[Any]) -> ConsentScope | None:
    """The scope under which ``event`` may be analysed at all; None for ungated events."""
    if type(event).topic in _UNGATED_TOPICS:
        return None
    if type(event).topic == feedback.TOPIC:
        return "measurement-feedback"
    if isinstance(event, SessionTelemetry):
        return "alliance-analytics"
    return "telehealth-treatment"


def required_scopes(event: CloudEvent[Any]) -> tuple[ConsentScope, ...]:
    """Every scope ``event`` needs: its analysis scope, plus the scope of a gated fact it carries."""
    scope = analysis_scope(event)
    if scope is None:
        return ()
    if isinstance(event, RecordingStarted):
        return (scope, "session-recording")
    if isinstance(event, MessageSent) and event.data.flags:
        return (scope, "message-scanning")
    return (scope,)


#: the scope whose absence at event time is a ``consent-violation``, per event type (DOMAIN.md's list: a
#: session start, a recording, telemetry, any feedback, and a message only when scanning flagged it)
VIOLATION_SCOPES: dict[type[CloudEvent[Any]], ConsentScope] = {
    SessionStarted: "telehealth-treatment",
    RecordingStarted: "session-recording",
    SessionTelemetry: "alliance-analytics",
    **{cls: "measurement-feedback" for cls in EVENT_CLASSES if cls.topic == feedback.TOPIC},
    MessageSent: "message-scanning",
}


def violation_scopes(event: CloudEvent[Any]) -> tuple[ConsentScope, ...]:
    """The scopes whose absence at event time is a ``consent-violation`` (see :data:`VIOLATION_SCOPES`)."""
    scope = VIOLATION_SCOPES.get(type(event))
    if scope is None or (isinstance(event, MessageSent) and not event.data.flags):
        return ()
    return (scope,)


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    """``covered``: every required scope active at event time. ``not-covered``: some are not and the
    hold is over (``missing`` says which). ``unknown-yet``: some are not, and a consent may still arrive.
    """

    status: ConsentStatus
    missing: tuple[ConsentScope, ...] = ()

    @property
    def final(self) -> bool:
        return self.status != "unknown-yet"


COVERED = ConsentDecision("covered")


def decide(client: ClientState | None, event: CloudEvent[Any], *, hold_expired: bool) -> ConsentDecision:
    """The consent decision for ``event`` given what is known of its client's consents now."""
    timeline = client.consents if client is not None else ConsentTimeline()
    missing = tuple(scope for scope in required_scopes(event) if not is_active(timeline, scope, event.time))
    if not missing:
        return COVERED
    return ConsentDecision("not-covered" if hold_expired else "unknown-yet", missing)


def analysable(event: CloudEvent[Any], decision: ConsentDecision) -> CloudEvent[Any] | None:
    """What the rules may see of ``event``: nothing when its analysis scope is missing, and a message
    without its flags when ``message-scanning`` is (its time is still covered by telehealth-treatment)."""
    if analysis_scope(event) in decision.missing:
        return None
    if isinstance(event, MessageSent) and "message-scanning" in decision.missing:
        return event.model_copy(update={"data": event.data.model_copy(update={"flags": []})})
    return event
