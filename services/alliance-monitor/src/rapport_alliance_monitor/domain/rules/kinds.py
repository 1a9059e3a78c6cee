"""The three rule kinds of DOMAIN.md, turning a rule's finding into alert decisions.

- *per event*: one alert per triggering event (anchor: the event id).
- *per session*: at most one alert per session (anchor: the session id).
- *condition*: at most one open alert per pair (and scope); while open, new evidence becomes an update;
  a cleared condition resolves it, unless the rule records past facts (then only a person resolves it).
  The anchor is the pair plus the id of the event that opened the episode, so each episode has its own id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapport_alliance_monitor.domain.alerts import RULE_SPECS, AlertDecision, Raise, Resolve, Update, alert_id
from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.state import PairState
from rapport_common.events.alerts import RuleId
from rapport_common.events.envelope import CloudEvent


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule found: a reflective summary and the ids of the events behind it."""

    summary: str
    evidence: tuple[str, ...]
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Cleared:
    """A condition rule's condition no longer holds."""

    reason: str


Verdict = Finding | Cleared | None


def _raise(
    rule: RuleId,
    anchor: tuple[str, ...],
    pair: PairState,
    event: CloudEvent[Any],
    config: RulesConfig,
    finding: Finding,
    scope: str | None = None,
) -> Raise:
    spec = RULE_SPECS[rule]
    return Raise(
        alert_id=alert_id(rule, *anchor),
        rule=rule,
        category=spec.category,
        severity=config.severity(rule),
        audience=config.audience(rule),
        live=spec.live,
        client_id=pair.client_id,
        clinician_id=pair.clinician_id,
        session_id=finding.session_id,
        summary=finding.summary,
        evidence=finding.evidence,
        at=event.time,
        scope=scope,
    )


def per_event(
    rule: RuleId, pair: PairState, event: CloudEvent[Any], config: RulesConfig, finding: Finding | None
) -> list[AlertDecision]:
    if finding is None:
        return []
    return [_raise(rule, (event.id,), pair, event, config, finding)]


def per_session(
    rule: RuleId, pair: PairState, event: CloudEvent[Any], config: RulesConfig, finding: Finding | None
) -> list[AlertDecision]:
    if finding is None or finding.session_id is None or pair.has_session_alert(rule, finding.session_id):
        return []
    return [_raise(rule, (finding.session_id,), pair, event, config, finding)]


def condition(
    rule: RuleId,
    pair: PairState,
    event: CloudEvent[Any],
    config: RulesConfig,
    verdict: Verdict,
    scope: str | None = None,
) -> list[AlertDecision]:
    open_alert = pair.open_alert(rule, scope)
    if isinstance(verdict, Finding):
        if open_alert is None:
            anchor = (pair.client_id, pair.clinician_id, scope or "", event.id)
            return [_raise(rule, anchor, pair, event, config, verdict, scope)]
        added = tuple(e for e in verdict.evidence if e not in open_alert.evidence)
        if not added:
            return []
        return [
            Update(
                alert_id=open_alert.alert_id,
                rule=rule,
                client_id=pair.client_id,
                clinician_id=pair.clinician_id,
                summary=verdict.summary,
                added_evidence=added,
                at=event.time,
            )
        ]
    if isinstance(verdict, Cleared) and open_alert is not None and RULE_SPECS[rule].resolves_itself:
        return [
            Resolve(
                alert_id=open_alert.alert_id,
                rule=rule,
                client_id=pair.client_id,
                clinician_id=pair.clinician_id,
                reason=verdict.reason,
                at=event.time,
            )
        ]
    return []
