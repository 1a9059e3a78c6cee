"""The three rule kinds of DOMAIN.md, turning a rule's verdict into alert decisions.

- *per event*: one alert per triggering event (anchor: the event id).
- *per session*: at most one alert per session (anchor: the session id).
- *condition*: at most one open alert per pair (and scope); while open, new evidence becomes an update;
  a cleared condition resolves it, unless the rule records past facts (then only a person resolves it).
  The anchor is the pair plus the id of the event that opened the episode, so each episode has its own id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rapport_alliance_monitor.domain.alerts import AlertDecision, Raise, Resolve, Update, alert_id
from rapport_alliance_monitor.domain.rules.declaration import Cleared, Finding, Rule, Verdict
from rapport_alliance_monitor.domain.state import Facts, PairState
from rapport_common.events.envelope import CloudEvent

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig


def apply(rule: Rule, *, facts: Facts, event: CloudEvent[Any], config: RulesConfig) -> list[AlertDecision]:
    """Run ``rule``'s check on ``event`` and decide as its kind says."""
    if rule.check is None:
        raise ValueError(f"rule {rule.id} has no event check: the engine calls it itself")
    verdict = rule.check(facts, event, config)
    if rule.kind == "condition":
        return condition(rule, pair=facts.pair, event=event, config=config, verdict=verdict)
    finding = verdict if isinstance(verdict, Finding) else None
    if rule.kind == "per-session":
        return per_session(rule, pair=facts.pair, event=event, config=config, finding=finding)
    return per_event(rule, pair=facts.pair, event=event, config=config, finding=finding)


def per_event(
    rule: Rule, *, pair: PairState, event: CloudEvent[Any], config: RulesConfig, finding: Finding | None
) -> list[AlertDecision]:
    if finding is None:
        return []
    return [_raise(rule, anchor=(event.id,), pair=pair, event=event, config=config, finding=finding)]


def per_session(
    rule: Rule, *, pair: PairState, event: CloudEvent[Any], config: RulesConfig, finding: Finding | None
) -> list[AlertDecision]:
    if finding is None or finding.session_id is None or pair.has_session_alert(rule.id, finding.session_id):
        return []
    return [_raise(rule, anchor=(finding.session_id,), pair=pair, event=event, config=config, finding=finding)]


def condition(
    rule: Rule,
    *,
    pair: PairState,
    event: CloudEvent[Any],
    config: RulesConfig,
    verdict: Verdict,
    scope: str | None = None,
) -> list[AlertDecision]:
    open_alert = pair.open_alert(rule.id, scope)
    if isinstance(verdict, Finding):
        if open_alert is None:
            anchor = (pair.client_id, pair.clinician_id, scope or "", event.id)
            return [_raise(rule, anchor=anchor, pair=pair, event=event, config=config, finding=verdict, scope=scope)]
        added = tuple(e for e in verdict.evidence if e not in open_alert.evidence)
        if not added:
            return []
        return [
            Update(
                alert_id=open_alert.alert_id,
                rule=rule.id,
                client_id=pair.client_id,
                clinician_id=pair.clinician_id,
                summary=verdict.summary,
                added_evidence=added,
                at=event.time,
            )
        ]
    if isinstance(verdict, Cleared) and open_alert is not None and rule.resolves_itself:
        return [
            Resolve(
                alert_id=open_alert.alert_id,
                rule=rule.id,
                client_id=pair.client_id,
                clinician_id=pair.clinician_id,
                reason=verdict.reason,
                at=event.time,
            )
        ]
    return []


def _raise(
    rule: Rule,
    *,
    anchor: tuple[str, ...],
    pair: PairState,
    event: CloudEvent[Any],
    config: RulesConfig,
    finding: Finding,
    scope: str | None = None,
) -> Raise:
    return Raise(
        alert_id=alert_id(rule.id, *anchor),
        rule=rule.id,
        kind=rule.kind,
        category=rule.category,
        severity=config.severity(rule.id),
        audience=config.audience(rule.id),
        live=rule.live,
        client_id=pair.client_id,
        clinician_id=pair.clinician_id,
        session_id=finding.session_id,
        summary=finding.summary,
        evidence=finding.evidence,
        at=event.time,
        scope=scope,
    )
