"""The rules config: every rule's thresholds section and per-rule switches, overridable per organisation.

The defaults are the rule declarations' own (``rules/``): each section is declared next to the rules that
read it, and a test keeps the sections listed here equal to those the declarations name. The sections are
spelled out, not assembled at run time, so every ``config.srs.cutoff`` is type-checked. Unknown keys and
out-of-range values are refused with a :class:`RulesConfigError` naming the key, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rapport_alliance_monitor.domain.rules import RULES
from rapport_alliance_monitor.domain.rules.boundary import OffHoursThresholds, OverrunThresholds
from rapport_alliance_monitor.domain.rules.consent import ConsentThresholds
from rapport_alliance_monitor.domain.rules.live import PulseThresholds, TelemetryThresholds
from rapport_alliance_monitor.domain.rules.ors import OrsThresholds
from rapport_alliance_monitor.domain.rules.srs import SrsThresholds
from rapport_alliance_monitor.domain.rules.thresholds import Thresholds
from rapport_common.events.alerts import Audience, RuleId, Severity

#: generated from the declarations (``rule_artefacts.py``); the file operators copy to override
DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "rules.default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSettings(_Section):
    """Per-rule switches; severity and audience default to the rule's own (DOMAIN.md)."""

    enabled: bool = True
    severity: Severity | None = None
    audience: Audience | None = None


class RulesConfig(_Section):
    srs: SrsThresholds = SrsThresholds()
    ors: OrsThresholds = OrsThresholds()
    pulse: PulseThresholds = PulseThresholds()
    telemetry: TelemetryThresholds = TelemetryThresholds()
    overrun: OverrunThresholds = OverrunThresholds()
    off_hours: OffHoursThresholds = OffHoursThresholds()
    consent: ConsentThresholds = ConsentThresholds()
    rules: dict[RuleId, RuleSettings] = Field(default_factory=dict, validate_default=True)

    @field_validator("rules")
    @classmethod
    def _every_rule(cls, value: dict[RuleId, RuleSettings]) -> dict[RuleId, RuleSettings]:
        """A file lists only the rules it changes; the others keep their defaults."""
        return {rule: value.get(rule, RuleSettings()) for rule in RULES}

    def enabled(self, rule: RuleId) -> bool:
        return self._settings(rule).enabled

    def severity(self, rule: RuleId) -> Severity:
        return self._settings(rule).severity or RULES[rule].severity

    def audience(self, rule: RuleId) -> Audience:
        return self._settings(rule).audience or RULES[rule].audience

    def _settings(self, rule: RuleId) -> RuleSettings:
        return self.rules[rule]

    @classmethod
    def sections(cls) -> dict[str, type[Thresholds]]:
        """The thresholds sections by key, in file order."""
        return {
            name: field.annotation
            for name, field in cls.model_fields.items()
            if isinstance(field.annotation, type) and issubclass(field.annotation, Thresholds)
        }


class RulesConfigError(ValueError):
    """A rules file that cannot be used; the message names the file and the offending key."""


def load_rules_config(path: Path | str = DEFAULT_RULES_PATH) -> RulesConfig:
    """Read and validate a rules YAML file; an empty file means every default."""
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesConfigError(f"{path}: cannot read rules config ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RulesConfigError(f"{path}: not valid YAML ({exc})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RulesConfigError(f"{path}: the rules config must be a mapping of sections")
    try:
        return RulesConfig.model_validate(raw)
    except ValidationError as exc:
        raise RulesConfigError(f"{path}: " + "; ".join(_describe(error) for error in exc.errors())) from None


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"] if part != "[key]") or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    return f"{key}: {error['msg']}"
