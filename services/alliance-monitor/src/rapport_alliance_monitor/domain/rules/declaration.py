"""One declaration per rule: everything the monitor, its config, its operator file and the console know of it.

A :class:`Rule` names its id (the contract's ``RuleId``), its fixed character (category, kind, live), its
defaults a config may override (severity, audience), the event types that trigger it, the thresholds
section it reads (whose field defaults are the default thresholds) and its check. A check only judges: it
returns a :data:`Verdict`, and the rule's kind (``kinds.apply``) turns that into alert decisions, so the
kind is declared once and cannot disagree with what the check does.

``explains`` says in plain words what the rule looks at, for the console; ``{section.field}`` placeholders
are filled from a config (``:words`` spells a small count, ``:days`` a number of days), so the console
never carries a threshold of its own.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport_alliance_monitor.domain.alerts import RuleKind
from rapport_alliance_monitor.domain.rules.thresholds import Thresholds
from rapport_alliance_monitor.domain.state import Facts
from rapport_common.events.alerts import Audience, Category, RuleId, Severity
from rapport_common.events.envelope import CloudEvent

if TYPE_CHECKING:
    from rapport_alliance_monitor.domain.config import RulesConfig


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

#: a rule's judgement of one event, its facts already recorded in ``facts``
Check = Callable[[Facts, Any, "RulesConfig"], Verdict]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A rule as DOMAIN.md's table states it, with its check."""

    id: RuleId
    category: Category
    #: defaults; a rules config may override them per organisation
    severity: Severity
    audience: Audience
    kind: RuleKind
    explains: str
    #: the rules-config section the check reads; its field defaults are the rule's default thresholds
    thresholds: type[Thresholds] | None = None
    #: the event types the check is run on; none for consent-violation, which the engine calls itself
    #: with the consent decision
    on: tuple[type[CloudEvent[Any]], ...] = ()
    check: Check | None = None
    #: live alerts must reach the clinician's console while the session runs
    live: bool = False
    #: condition rules that record past facts stay open until a person resolves them
    resolves_itself: bool = True

    def __post_init__(self) -> None:
        if bool(self.on) != (self.check is not None):
            raise ValueError(f"rule {self.id}: a check needs the event types it runs on, and the other way round")


_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


class _Wording(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "words":
            return _WORDS.get(value, f"{value:g}")
        if format_spec == "days":
            return {1: "a day", 7: "a week"}.get(value, f"{value:g} days")
        formatted: str = super().format_field(value, format_spec)
        return formatted


def explanation(rule: Rule, *, config: RulesConfig) -> str:
    """``rule.explains`` with the thresholds of ``config`` filled in."""
    return _Wording().format(rule.explains, **dict(config))
