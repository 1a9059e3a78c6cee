"""The fifteen rules of DOMAIN.md, and which of them look at which event type.

Each rule is declared once (:class:`Rule`), next to its check and the thresholds section it reads, in the
module of its family. Everything else about rules is derived from :data:`RULES`: the rules run per event
type, the rules config's per-rule settings and defaults (``config.py``), the shipped ``rules.default.yaml``
and the console's rule texts (``rule_artefacts.py``). Tests check the contract's ``RuleId``, DOMAIN.md's
table and the simulator's ground truth against it, since those may not import the monitor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rapport_alliance_monitor.domain.rules import attendance, boundary, consent, live, ors, srs
from rapport_alliance_monitor.domain.rules.consent import CONSENT_VIOLATION, consent_violation
from rapport_alliance_monitor.domain.rules.declaration import Rule, explanation
from rapport_alliance_monitor.domain.rules.kinds import apply
from rapport_common.events.alerts import RuleId
from rapport_common.events.envelope import CloudEvent

#: every rule, in evaluation order (the order they run in for one event)
RULES: dict[RuleId, Rule] = {
    rule.id: rule for rule in (*srs.RULES, *ors.RULES, *attendance.RULES, *live.RULES, *boundary.RULES, *consent.RULES)
}


def _by_event(rules: Iterable[Rule]) -> dict[type[CloudEvent[Any]], tuple[Rule, ...]]:
    by_event: dict[type[CloudEvent[Any]], tuple[Rule, ...]] = {}
    for rule in rules:
        for event_type in rule.on:
            by_event[event_type] = (*by_event.get(event_type, ()), rule)
    return by_event


#: the rules each event type triggers, in evaluation order (consent-violation is run by the engine itself)
RULES_BY_EVENT = _by_event(RULES.values())


def rules_for(event: CloudEvent[Any]) -> tuple[Rule, ...]:
    return RULES_BY_EVENT.get(type(event), ())


__all__ = [
    "CONSENT_VIOLATION",
    "RULES",
    "RULES_BY_EVENT",
    "Rule",
    "apply",
    "consent_violation",
    "explanation",
    "rules_for",
]
