"""Consent gate: activity on event time, which scope covers what, and the hold decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rapport_alliance_monitor.domain.consent_gate import (
    analysis_scope,
    decide,
    is_active,
    required_scopes,
    violation_scopes,
)
from rapport_alliance_monitor.domain.consent_timeline import ConsentTimeline
from rapport_alliance_monitor.domain.state import ClientState

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCOPE = "measurement-feedback"


def timeline(**grant: object) -> ConsentTimeline:
    return ConsentTimeline().with_grant("c1", SCOPE, grant.get("valid_from", T0), grant.get("valid_until"))  # type: ignore[arg-type]


def test_active_from_valid_from_inclusive() -> None:
    consents = timeline()
    assert is_active(consents, SCOPE, T0)
    assert not is_active(consents, SCOPE, T0 - timedelta(microseconds=1))


def test_inactive_exactly_at_valid_until() -> None:
    consents = timeline(valid_until=T0 + timedelta(days=30))
    assert is_active(consents, SCOPE, T0 + timedelta(days=30) - timedelta(microseconds=1))
    assert not is_active(consents, SCOPE, T0 + timedelta(days=30))


def test_revocation_takes_effect_at_effective_at_inclusive() -> None:
    revoked = T0 + timedelta(days=3)
    consents = timeline().with_revocation("c1", SCOPE, revoked)
    assert is_active(consents, SCOPE, revoked - timedelta(microseconds=1))
    assert not is_active(consents, SCOPE, revoked)
    assert not is_active(consents, SCOPE, revoked + timedelta(days=100))


def test_revocation_never_rewrites_history() -> None:
    consents = timeline().with_revocation("c1", SCOPE, T0 + timedelta(days=3))
    assert is_active(consents, SCOPE, T0 + timedelta(days=1))


def test_expiry_ends_the_consent() -> None:
    consents = timeline().with_expiry("c1", SCOPE, T0 + timedelta(days=2))
    assert is_active(consents, SCOPE, T0 + timedelta(days=1))
    assert not is_active(consents, SCOPE, T0 + timedelta(days=2))


def test_a_new_grant_after_a_revocation_is_active_again() -> None:
    consents = (
        timeline()
        .with_revocation("c1", SCOPE, T0 + timedelta(days=3))
        .with_grant("c2", SCOPE, T0 + timedelta(days=10), None)
    )
    assert not is_active(consents, SCOPE, T0 + timedelta(days=5))
    assert is_active(consents, SCOPE, T0 + timedelta(days=10))


def test_revocation_arriving_before_its_grant_still_applies() -> None:
    consents = ConsentTimeline().with_revocation("c1", SCOPE, T0 + timedelta(days=3)).with_grant("c1", SCOPE, T0, None)
    assert is_active(consents, SCOPE, T0 + timedelta(days=1))
    assert not is_active(consents, SCOPE, T0 + timedelta(days=3))


def test_a_revocation_alone_activates_nothing() -> None:
    consents = ConsentTimeline().with_revocation("c1", SCOPE, T0 + timedelta(days=3))
    assert not is_active(consents, SCOPE, T0)


def test_scopes_do_not_cover_each_other() -> None:
    assert not is_active(timeline(), "alliance-analytics", T0 + timedelta(days=1))


def test_recording_grant_twice_is_idempotent() -> None:
    once = timeline()
    assert once.with_grant("c1", SCOPE, T0, None) == once


def test_analysis_scope_per_event_type(events) -> None:
    t = T0 + timedelta(days=1)
    assert analysis_scope(events.srs(38.0, session_id="s1", at=t)) == "measurement-feedback"
    assert analysis_scope(events.ors(20.0, session_id="s1", at=t)) == "measurement-feedback"
    assert analysis_scope(events.pulse(3, session_id="s1", at=t)) == "measurement-feedback"
    assert analysis_scope(events.wai(session_id="s1", at=t)) == "measurement-feedback"
    assert analysis_scope(events.telemetry("s1", t)) == "alliance-analytics"
    for event in (
        events.started("s1", t),
        events.no_show("s1", t),
        events.cancelled("s1", t),
        events.ended("s1", t),
        events.overrun("s1", 5, t),
        events.recording("s1", t),
        events.message(t),
    ):
        assert analysis_scope(event) == "telehealth-treatment"
    for event in (events.grant(SCOPE), events.revoke(SCOPE, effective_at=t), events.intake(20.0), events.clinician()):
        assert analysis_scope(event) is None
        assert required_scopes(event) == ()


def test_recording_and_flags_need_their_own_scope(events) -> None:
    t = T0 + timedelta(days=1)
    assert required_scopes(events.recording("s1", t)) == ("telehealth-treatment", "session-recording")
    assert required_scopes(events.message(t, flags=["social-media"])) == ("telehealth-treatment", "message-scanning")
    assert required_scopes(events.message(t)) == ("telehealth-treatment",)


def test_violation_scopes_are_domain_md_cases(events) -> None:
    t = T0 + timedelta(days=1)
    assert violation_scopes(events.started("s1", t)) == ("telehealth-treatment",)
    assert violation_scopes(events.recording("s1", t)) == ("session-recording",)
    assert violation_scopes(events.srs(38.0, session_id="s1", at=t)) == ("measurement-feedback",)
    assert violation_scopes(events.telemetry("s1", t)) == ("alliance-analytics",)
    assert violation_scopes(events.message(t, flags=["payment-request"])) == ("message-scanning",)
    assert violation_scopes(events.message(t)) == ()
    assert violation_scopes(events.ended("s1", t)) == ()


def test_decide_covered_unknown_yet_and_not_covered(events) -> None:
    client = ClientState(client_id=events.client_id, consents=timeline())
    covered = events.srs(38.0, session_id="s1", at=T0)
    early = events.srs(38.0, session_id="s1", at=T0 - timedelta(seconds=1))
    assert decide(client, covered, hold_expired=False).status == "covered"
    waiting = decide(client, early, hold_expired=False)
    assert (waiting.status, waiting.missing, waiting.final) == ("unknown-yet", (SCOPE,), False)
    final = decide(client, early, hold_expired=True)
    assert (final.status, final.missing, final.final) == ("not-covered", (SCOPE,), True)


def test_decide_without_any_client_row(events) -> None:
    decision = decide(None, events.telemetry("s1", T0), hold_expired=True)
    assert (decision.status, decision.missing) == ("not-covered", ("alliance-analytics",))


@pytest.mark.parametrize("hold_expired", [False, True])
def test_ungated_events_are_always_covered(events, hold_expired: bool) -> None:
    assert decide(None, events.grant(SCOPE), hold_expired=hold_expired).status == "covered"
    assert decide(None, events.clinician(), hold_expired=hold_expired).status == "covered"
