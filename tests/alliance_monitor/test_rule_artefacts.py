"""The files generated from the rule declarations are committed up to date: the operator's rules file and the
console's rule texts (the console carries no threshold of its own)."""

from __future__ import annotations

import re
from pathlib import Path

from rapport_alliance_monitor.domain.config import DEFAULT_RULES_PATH, RulesConfig, load_rules_config
from rapport_alliance_monitor.domain.rules import RULES
from rapport_alliance_monitor.rule_artefacts import (
    CONSOLE_RULES_PATH,
    REGENERATE_COMMAND,
    render_console_rules,
    render_rules_yaml,
    repo_root,
)

STATIC = repo_root() / CONSOLE_RULES_PATH.parent


def test_the_shipped_rules_file_is_generated_from_the_declarations() -> None:
    assert DEFAULT_RULES_PATH.read_text(encoding="utf-8") == render_rules_yaml(), (
        f"{DEFAULT_RULES_PATH.name} is stale: a rule declaration changed. Regenerate it with: {REGENERATE_COMMAND}"
    )


def test_the_shipped_rules_file_states_every_default(tmp_path: Path) -> None:
    """Every threshold and every rule is spelled out, so an operator's copy changes only what they edit."""
    path = tmp_path / "rules.yaml"
    path.write_text(render_rules_yaml(), encoding="utf-8")
    assert load_rules_config(path) == RulesConfig()
    text = path.read_text(encoding="utf-8")
    for rule in RULES.values():
        line = next(line for line in text.splitlines() if line.startswith(f"  {rule.id}: "))
        assert line.endswith(f"# {rule.severity}, {rule.audience}" + (" (live)" if rule.live else "")), line
    for name, section in RulesConfig.sections().items():
        assert re.search(rf"^{name}:", text, re.M), name
        for field in section.model_fields:
            assert re.search(rf"^  {field}:", text, re.M), f"{name}.{field}"


def test_the_console_rule_texts_are_generated_from_the_declarations() -> None:
    committed = repo_root() / CONSOLE_RULES_PATH
    assert committed.read_text(encoding="utf-8") == render_console_rules(), (
        f"{CONSOLE_RULES_PATH} is stale: a rule declaration changed. Regenerate it with: {REGENERATE_COMMAND}"
    )
    assert all(f'  "{rule_id}": "' in committed.read_text(encoding="utf-8") for rule_id in RULES)


def test_the_console_takes_rule_texts_from_the_generated_file() -> None:
    alerts = (STATIC / "alerts.js").read_text(encoding="utf-8")
    assert "RuleTexts[alert.rule]" in alerts
    assert not any(rule_id in alerts for rule_id in RULES), "alerts.js names a rule: its text belongs in rules.js"
    for page in STATIC.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        if "/static/alerts.js" in html:
            assert 0 <= html.find('src="/static/rules.js"') < html.find('src="/static/alerts.js"'), page.name
