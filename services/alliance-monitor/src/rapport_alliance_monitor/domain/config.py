"""Rule thresholds (DOMAIN.md defaults), overridable per organisation from a YAML file.

Unknown keys and negative thresholds are refused with a :class:`RulesConfigError` naming the key, so a
typo never silently falls back to a default. SRS/ORS thresholds have at most one decimal because the
comparisons are exact in tenths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rapport_alliance_monitor.domain.alerts import RULE_SPECS
from rapport_alliance_monitor.domain.records import ENDED_LIMIT, SESSION_START_LIMIT, SRS_LIMIT
from rapport_common.events.alerts import Audience, RuleId, Severity
from rapport_common.events.feedback import ORS_CUTOFF, SRS_CUTOFF
from rapport_common.events.fields import tenths

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "rules.default.yaml"


def _one_decimal(value: float) -> float:
    if abs(value * 10 - tenths(value)) > 1e-6:
        raise ValueError("must have at most one decimal place (scale points are compared in tenths)")
    return value


ScalePoints = Annotated[float, Field(ge=0.0, le=40.0), AfterValidator(_one_decimal)]
ItemPoints = Annotated[float, Field(ge=0.0, le=10.0), AfterValidator(_one_decimal)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SrsRules(_Section):
    cutoff: ScalePoints = SRS_CUTOFF
    item_low: ItemPoints = 8.0
    drop: ScalePoints = 3.0
    #: sessions 1..early_sessions raise early-low-alliance instead of srs-below-cutoff
    early_sessions: int = Field(default=3, ge=0, le=SESSION_START_LIMIT)
    #: how many consecutive 40.0 totals make a ceiling
    ceiling_run: int = Field(default=3, ge=1, le=SRS_LIMIT)

    @property
    def cutoff_tenths(self) -> int:
        return tenths(self.cutoff)


class OrsCutoffs(_Section):
    adult: ScalePoints = ORS_CUTOFF["adult"]
    adolescent: ScalePoints = ORS_CUTOFF["adolescent"]
    child: ScalePoints = ORS_CUTOFF["child"]

    def for_band(self, age_band: str) -> float:
        return float(getattr(self, age_band))


class OrsRules(_Section):
    reliable_change: ScalePoints = 5.0
    cutoffs: OrsCutoffs = OrsCutoffs()
    not_improving_from_session: int = Field(default=4, ge=1, le=SESSION_START_LIMIT + 1)


class PulseRules(_Section):
    #: a pulse score at or below this is low
    low_max: int = Field(default=2, ge=0, le=5)


class TelemetryRules(_Section):
    lookback_minutes: float = Field(default=10.0, gt=0.0)
    min_windows: int = Field(default=5, ge=1)
    camera_on_below: Ratio = 0.5
    talk_ratio_below: Ratio = 0.1
    silence_s: float = Field(default=120.0, ge=0.0)


class OverrunRules(_Section):
    live_minutes: int = Field(default=15, ge=0)
    pattern_minutes: float = Field(default=10.0, ge=0.0)
    pattern_count: int = Field(default=3, ge=1)
    pattern_last: int = Field(default=5, ge=1, le=ENDED_LIMIT)

    @model_validator(mode="after")
    def _count_fits(self) -> OverrunRules:
        if self.pattern_count > self.pattern_last:
            raise ValueError("pattern_count cannot exceed pattern_last")
        return self


class OffHoursRules(_Section):
    messages: int = Field(default=3, ge=1)
    window_days: float = Field(default=7.0, gt=0.0)


class ConsentRules(_Section):
    #: processing-time wait for a consent that may still arrive on the consent topic
    hold_seconds: float = Field(default=10.0, ge=0.0)


class RuleSettings(_Section):
    """Per-rule switches; severity and audience default to the rule's own (DOMAIN.md)."""

    enabled: bool = True
    severity: Severity | None = None
    audience: Audience | None = None


class RulesConfig(_Section):
    srs: SrsRules = SrsRules()
    ors: OrsRules = OrsRules()
    pulse: PulseRules = PulseRules()
    telemetry: TelemetryRules = TelemetryRules()
    overrun: OverrunRules = OverrunRules()
    off_hours: OffHoursRules = OffHoursRules()
    consent: ConsentRules = ConsentRules()
    rules: dict[RuleId, RuleSettings] = Field(default_factory=dict, validate_default=True)

    @field_validator("rules")
    @classmethod
    def _every_rule(cls, value: dict[RuleId, RuleSettings]) -> dict[RuleId, RuleSettings]:
        """A file lists only the rules it changes; the others keep their defaults."""
        return {rule: value.get(rule, RuleSettings()) for rule in RULE_SPECS}

    def enabled(self, rule: RuleId) -> bool:
        return self._settings(rule).enabled

    def severity(self, rule: RuleId) -> Severity:
        return self._settings(rule).severity or RULE_SPECS[rule].severity

    def audience(self, rule: RuleId) -> Audience:
        return self._settings(rule).audience or RULE_SPECS[rule].audience

    def _settings(self, rule: RuleId) -> RuleSettings:
        return self.rules[rule]


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
