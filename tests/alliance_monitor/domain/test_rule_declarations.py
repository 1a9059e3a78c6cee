"""The rule declarations against the places that may not import them: the contract's ``RuleId``, EVENTS.md's
rule ids and DOMAIN.md's rules table; and what is derived from them (rules per event type, config sections).

The shared docs are read from ``shared/`` beside the repository (where the developers' machines and CI have
them); written out here instead they would be one more copy to keep in step.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from rapport_alliance_monitor.domain.config import RulesConfig
from rapport_alliance_monitor.domain.rules import RULES, RULES_BY_EVENT
from rapport_alliance_monitor.domain.rules.declaration import Rule, explanation
from rapport_common.events.alerts import RULE_IDS
from rapport_common.events.feedback import OrsSubmitted, PulseSubmitted, SrsSubmitted
from rapport_common.events.session import (
    MessageSent,
    SessionCancelled,
    SessionEnded,
    SessionNoShow,
    SessionOverrun,
    SessionStarted,
    SessionTelemetry,
)

SHARED = Path(__file__).resolve().parents[3].parent / "shared"

#: rule ids of EVENTS.md's contract v1.1 (DOMAIN.md "rules v1.1") that the monitor does not implement yet
NOT_YET_DECLARED = {"not-on-track", "alliance-perception-gap", "countertransference-prompt"}


def shared_doc(name: str) -> str:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared design docs sit beside the repository)")
    return path.read_text(encoding="utf-8")


def test_the_declarations_are_the_contracts_rule_ids() -> None:
    assert len(RULES) == len(RULE_IDS) == len(set(RULE_IDS))
    assert set(RULES) == set(RULE_IDS)
    assert all(rule_id == rule.id for rule_id, rule in RULES.items())


def test_the_declarations_are_events_md_rule_ids() -> None:
    text = shared_doc("EVENTS.md")
    v1 = text.split("## Rule ids", 1)[1].split("What each one means", 1)[0]
    named = set(re.findall(r"`([a-z-]+)`", v1.split("\n", 1)[1]))
    for later in re.findall(r"New rule ids?: ((?:`[a-z-]+`(?:,\s*)?)+)", text):
        named |= set(re.findall(r"`([a-z-]+)`", later))
    assert named >= NOT_YET_DECLARED, "a rule id this test knows of left EVENTS.md"
    assert set(RULES) == named - NOT_YET_DECLARED


def test_the_declarations_are_domain_md_rules_table() -> None:
    text = shared_doc("DOMAIN.md")
    table = text.split("## Detection rules", 1)[1].split("\n\n", 2)[1]
    documented = {}
    for row in re.findall(r"^\| `([a-z-]+)` \| ([^|]+) \| ([^|]+) \|", table, re.M):
        rule_id, character, kind = row
        category, severity, rest = (part.strip() for part in character.split("/"))
        audience, _, live = rest.partition(", ")
        documented[rule_id] = (category, severity, audience, live == "live", kind.split(",")[0].strip())
    declared = {
        rule.id: (rule.category, rule.severity, rule.audience, rule.live, rule.kind.replace("-", " "))
        for rule in RULES.values()
    }
    assert declared == documented


def test_rules_per_event_type_are_derived_in_evaluation_order() -> None:
    by_event = {event_type: [rule.id for rule in rules] for event_type, rules in RULES_BY_EVENT.items()}
    assert by_event == {
        SrsSubmitted: ["early-low-alliance", "srs-below-cutoff", "srs-item-low", "srs-drop", "srs-ceiling"],
        OrsSubmitted: ["ors-deterioration", "ors-not-improving"],
        SessionStarted: ["attendance-withdrawal"],
        SessionNoShow: ["attendance-withdrawal"],
        SessionCancelled: ["attendance-withdrawal"],
        PulseSubmitted: ["pulse-low"],
        SessionTelemetry: ["withdrawal-telemetry"],
        SessionOverrun: ["live-overrun"],
        SessionEnded: ["overrun-pattern"],
        MessageSent: ["off-hours-contact", "off-platform-contact"],
    }
    assert [rule.id for rule in RULES.values() if not rule.on] == ["consent-violation"]


def test_the_config_has_exactly_the_sections_the_declarations_read() -> None:
    sections = RulesConfig.sections()
    assert set(sections.values()) == {rule.thresholds for rule in RULES.values() if rule.thresholds is not None}
    assert set(RulesConfig.model_fields) == {*sections, "rules"}


def placeholders(rule: Rule) -> set[str]:
    """The config sections ``rule.explains`` reads (``{srs.cutoff:g}`` -> ``srs``)."""
    fields = (name for _, name, _, _ in string.Formatter().parse(rule.explains) if name)
    return {name.split(".")[0] for name in fields}


def test_each_rules_wording_reads_only_its_own_thresholds() -> None:
    key = {section: name for name, section in RulesConfig.sections().items()}
    for rule in RULES.values():
        own = {key[rule.thresholds]} if rule.thresholds is not None else set()
        assert placeholders(rule) <= own, rule.id


def test_the_wording_follows_the_config_not_the_defaults() -> None:
    config = RulesConfig.model_validate(
        {"srs": {"cutoff": 34.5, "early_sessions": 2}, "off_hours": {"window_days": 3}, "pulse": {"low_max": 1}}
    )
    assert explanation(RULES["srs-below-cutoff"], config=config).startswith("The session rating was below 34.5 of")
    assert "below 34.5 in one of the first two sessions" in explanation(RULES["early-low-alliance"], config=config)
    assert explanation(RULES["off-hours-contact"], config=config).endswith("within 3 days.")
    assert "was 1 or lower" in explanation(RULES["pulse-low"], config=config)
    assert explanation(RULES["off-hours-contact"], config=RulesConfig()).endswith("within a week.")
