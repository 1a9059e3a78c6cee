"""The files derived from the rule declarations, committed, and kept up to date by a test.

- ``rules.default.yaml``: the operator-facing rules file (every threshold with its default and meaning,
  every rule with its own severity and audience). It is generated rather than written by hand and checked
  for equal values, because its comments repeat facts of the declarations too (what a threshold means,
  which rules a section tunes, each rule's severity and audience), and only generation keeps those right.
- the console's ``static/rules.js``: what each rule looks at, in plain words, at the default thresholds.
  The console may not import the monitor, so it reads this file instead of carrying thresholds of its own.

Regenerate both with ``python -m rapport_alliance_monitor.rule_artefacts`` after changing a declaration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rapport_alliance_monitor.domain.config import DEFAULT_RULES_PATH, RulesConfig
from rapport_alliance_monitor.domain.rules import RULES, Rule, explanation
from rapport_alliance_monitor.domain.rules.thresholds import Thresholds

REGENERATE_COMMAND = ".venv/bin/python -m rapport_alliance_monitor.rule_artefacts"
CONSOLE_RULES_PATH = Path("services/console/src/rapport_console/static/rules.js")

_YAML_HEADER = f"""\
# Alliance-monitor rules: the defaults of DOMAIN.md. Copy this file to override per organisation.
# Unknown keys and out-of-range thresholds are refused at start-up, naming the key.
# SRS/ORS points have at most one decimal (they are compared exactly, in tenths).
# Generated from the rule declarations: change those, not this file, then run
#   {REGENERATE_COMMAND}
"""

_JS_HEADER = f"""\
// What each alliance-monitor rule looks at, in plain words, at the default thresholds (DOMAIN.md).
// Generated from the rule declarations: change those, not this file, then run
//   {REGENERATE_COMMAND}
"use strict";
"""


def repo_root() -> Path:
    return Path(__file__).resolve().parents[4]


def render_rules_yaml() -> str:
    config = RulesConfig()
    blocks = [_YAML_HEADER]
    for name, section in RulesConfig.sections().items():
        readers = ", ".join(rule.id for rule in RULES.values() if rule.thresholds is section)
        blocks.append(_aligned([(f"{name}:", readers), *_fields(getattr(config, name), indent=1)]))
    blocks.append(_rules_block())
    return "\n".join(blocks)


def render_console_rules() -> str:
    config = RulesConfig()
    entries = "".join(
        f"  {json.dumps(rule.id)}: {json.dumps(explanation(rule, config=config), ensure_ascii=False)},\n"
        for rule in RULES.values()
    )
    return f"{_JS_HEADER}const RuleTexts = Object.freeze({{\n{entries}}});\n"


def _fields(values: Thresholds, *, indent: int) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    pad = "  " * indent
    for name, field in type(values).model_fields.items():
        value = getattr(values, name)
        if isinstance(value, Thresholds):
            lines += [(f"{pad}{name}:", field.description or ""), *_fields(value, indent=indent + 1)]
        else:
            lines.append((f"{pad}{name}: {_scalar(value)}", field.description or ""))
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _rules_block() -> str:
    lines = [(f"  {rule.id}: {{enabled: true, severity: null, audience: null}}", _own(rule)) for rule in RULES.values()]
    return (
        "# Per rule: enabled, and severity / audience overrides (null keeps the rule's own, shown in comments).\n"
        + _aligned([("rules:", ""), *lines])
    )


def _own(rule: Rule) -> str:
    return f"{rule.severity}, {rule.audience}" + (" (live)" if rule.live else "")


def _aligned(lines: list[tuple[str, str]]) -> str:
    """YAML lines with their comments lined up in one column."""
    width = max((len(text) for text, comment in lines if comment), default=0) + 2
    return "".join(f"{text.ljust(width)}# {comment}\n" if comment else f"{text}\n" for text, comment in lines)


def main() -> None:
    DEFAULT_RULES_PATH.write_text(render_rules_yaml(), encoding="utf-8")
    (repo_root() / CONSOLE_RULES_PATH).write_text(render_console_rules(), encoding="utf-8")
    print(f"wrote {DEFAULT_RULES_PATH} and {repo_root() / CONSOLE_RULES_PATH}")


if __name__ == "__main__":
    main()
