"""Property: nothing but consent-violation ever comes from an event its consent did not cover.

Random histories interleave consent grants, revocations and expiries with sessions, feedback, telemetry
and messages, arriving out of event-time order. An independent oracle (written from DOMAIN.md, not from
the gate) says which events were covered when they were decided; no other rule may raise, update or
resolve from an uncovered event, nor cite one as evidence, and consent-violation comes exactly from the
cases DOMAIN.md lists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport_alliance_monitor.domain import Raise, Update
from rapport_common.events.consent import ConsentExpired, ConsentGranted, ConsentRevoked
from rapport_common.events.feedback import TOPIC as FEEDBACK
from rapport_common.events.session import MessageSent, RecordingStarted, SessionStarted, SessionTelemetry

SCOPES = ("telehealth-treatment", "session-recording", "measurement-feedback", "alliance-analytics", "message-scanning")
HOUR = timedelta(hours=1)

hours = st.integers(min_value=0, max_value=24 * 21)
sessions = st.integers(min_value=1, max_value=6)
scale = st.sampled_from([10.0, 20.0, 30.0, 35.9, 36.0, 37.0, 40.0])
actions = st.one_of(
    st.tuples(st.just("grant"), st.sampled_from(SCOPES), hours, st.one_of(st.none(), st.integers(1, 24 * 14))),
    st.tuples(st.just("revoke"), st.integers(0, 9), hours),
    st.tuples(st.just("expire"), st.integers(0, 9), hours),
    st.tuples(st.just("started"), sessions, hours),
    st.tuples(st.just("srs"), sessions, hours, scale),
    st.tuples(st.just("ors"), sessions, hours, scale),
    st.tuples(st.just("pulse"), sessions, hours, st.integers(1, 5)),
    st.tuples(st.just("telemetry"), sessions, hours, st.integers(0, 5), st.sampled_from([0.0, 0.05, 0.6])),
    st.tuples(st.just("overrun"), sessions, hours, st.sampled_from([5, 15, 30])),
    st.tuples(st.just("ended"), sessions, hours, st.sampled_from([0, 12])),
    st.tuples(st.just("no-show"), sessions, hours),
    st.tuples(st.just("message"), hours, st.sampled_from(["client", "clinician"]), st.booleans()),
    st.tuples(st.just("recording"), sessions, hours),
)


def build(events, action, grants: list) -> object:
    """The contract event for one generated action."""
    kind, *args = action
    t = lambda h: events.T0 + h * HOUR  # noqa: E731
    if kind == "grant":
        scope, start, length = args
        grants.append(scope)
        until = t(start + length) if length else None
        return events.grant(scope, consent_id=f"c{len(grants) - 1}", valid_from=t(start), valid_until=until)
    if kind in ("revoke", "expire"):
        index, at = args
        scope = grants[index] if index < len(grants) else "telehealth-treatment"
        if kind == "revoke":
            return events.revoke(scope, consent_id=f"c{index}", effective_at=t(at))
        return events.expire(scope, consent_id=f"c{index}", expired_at=t(at))
    if kind == "started":
        return events.started(f"s{args[0]}", t(args[1]))
    if kind == "srs":
        return events.srs(args[2], session_id=f"s{args[0]}", at=t(args[1]))
    if kind == "ors":
        return events.ors(args[2], session_id=f"s{args[0]}", at=t(args[1]))
    if kind == "pulse":
        return events.pulse(args[2], session_id=f"s{args[0]}", at=t(args[1]))
    if kind == "telemetry":
        session, at, minute, camera = args
        return events.telemetry(f"s{session}", t(at) + timedelta(minutes=minute), camera=camera, talk=camera)
    if kind == "overrun":
        return events.overrun(f"s{args[0]}", args[2], t(args[1]))
    if kind == "ended":
        return events.ended(f"s{args[0]}", t(args[1]), minutes_over=args[2])
    if kind == "no-show":
        return events.no_show(f"s{args[0]}", t(args[1]))
    if kind == "message":
        at, sender, flagged = args
        return events.message(t(at) + timedelta(minutes=7), sender=sender, flags=["social-media"] if flagged else [])
    return events.recording(f"s{args[0]}", t(args[1]))


class Oracle:
    """Consent per DOMAIN.md from the consent events seen so far, keyed by consent id."""

    def __init__(self) -> None:
        self.grants: dict[str, tuple[str, datetime, datetime | None]] = {}
        self.ends: dict[str, list[datetime]] = {}

    def see(self, event) -> None:
        d = event.data
        if isinstance(event, ConsentGranted):
            self.grants[d.consent_id] = (d.scope, d.valid_from, d.valid_until)
        elif isinstance(event, ConsentRevoked):
            self.ends.setdefault(d.consent_id, []).append(d.effective_at)
        elif isinstance(event, ConsentExpired):
            self.ends.setdefault(d.consent_id, []).append(d.expired_at)

    def active(self, scope: str, t: datetime) -> bool:
        return any(
            s == scope
            and start <= t
            and (until is None or t < until)
            and all(end > t for end in self.ends.get(consent_id, []))
            for consent_id, (s, start, until) in self.grants.items()
        )


def analysis_scope(event) -> str:
    if type(event).topic == FEEDBACK:
        return "measurement-feedback"
    if isinstance(event, SessionTelemetry):
        return "alliance-analytics"
    return "telehealth-treatment"


def violated_scopes(event, oracle: Oracle) -> set[str]:
    listed = {
        SessionStarted: "telehealth-treatment",
        RecordingStarted: "session-recording",
        SessionTelemetry: "alliance-analytics",
    }
    scope = listed.get(type(event))
    if type(event).topic == FEEDBACK:
        scope = "measurement-feedback"
    if isinstance(event, MessageSent) and event.data.flags:
        scope = "message-scanning"
    return {scope} if scope is not None and not oracle.active(scope, event.time) else set()


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(actions, min_size=1, max_size=40))
def test_only_consent_violation_comes_from_uncovered_events(events, new_monitor, plan) -> None:
    monitor = new_monitor()
    monitor.feed(events.clinician(), events.client_registered(), events.intake(25.0))
    oracle, grants, covered = Oracle(), [], set()
    for action in plan:
        event = build(events, action, grants)
        oracle.see(event)
        is_covered = oracle.active(analysis_scope(event), event.time)
        if is_covered:
            covered.add(event.id)
        decisions = monitor.feed(event)
        if isinstance(event, ConsentGranted | ConsentRevoked | ConsentExpired):
            assert decisions == []
            continue
        for decision in decisions:
            cited = decision.evidence if isinstance(decision, Raise) else ()
            cited = decision.added_evidence if isinstance(decision, Update) else cited
            if decision.rule == "consent-violation":
                assert cited == (event.id,)
                continue
            assert is_covered, (decision.rule, type(event).__name__)
            assert set(cited) <= covered, decision.rule
            if decision.rule == "off-platform-contact":
                assert oracle.active("message-scanning", event.time)
        violations = {d.scope for d in decisions if isinstance(d, Raise) and d.rule == "consent-violation"}
        updated = [d for d in decisions if isinstance(d, Update) and d.rule == "consent-violation"]
        assert len(violations) + len(updated) == len(violated_scopes(event, oracle))
        assert violations <= violated_scopes(event, oracle)
