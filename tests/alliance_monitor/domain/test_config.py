"""Rules config: DOMAIN.md defaults, the shipped YAML, and refusals that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapport_alliance_monitor.domain.config import DEFAULT_RULES_PATH, RulesConfig, RulesConfigError, load_rules_config
from rapport_alliance_monitor.domain.rules import RULES
from rapport_common.events.alerts import RULE_IDS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_domain_md_thresholds() -> None:
    config = RulesConfig()
    assert (config.srs.cutoff, config.srs.item_low, config.srs.drop, config.srs.early_sessions) == (36.0, 8.0, 3.0, 3)
    assert config.srs.ceiling_run == 3
    assert config.ors.reliable_change == 5.0
    assert (config.ors.cutoffs.adult, config.ors.cutoffs.adolescent, config.ors.cutoffs.child) == (25.0, 28.0, 32.0)
    assert config.ors.not_improving_from_session == 4
    assert config.pulse.low_max == 2
    t = config.telemetry
    assert (t.lookback_minutes, t.min_windows, t.camera_on_below, t.talk_ratio_below, t.silence_s) == (
        10.0,
        5,
        0.5,
        0.1,
        120.0,
    )
    o = config.overrun
    assert (o.live_minutes, o.pattern_minutes, o.pattern_count, o.pattern_last) == (15, 10.0, 3, 5)
    assert (config.off_hours.messages, config.off_hours.window_days) == (3, 7.0)
    assert config.consent.hold_seconds == 10.0


def test_every_rule_has_domain_md_category_severity_and_audience() -> None:
    assert set(RULES) == set(RULE_IDS)
    config = RulesConfig()
    table = {rule: (spec.category, config.severity(rule), config.audience(rule)) for rule, spec in RULES.items()}
    assert table == {
        "srs-below-cutoff": ("alliance", "medium", "clinician"),
        "early-low-alliance": ("alliance", "high", "clinician"),
        "srs-item-low": ("alliance", "low", "clinician"),
        "srs-drop": ("alliance", "low", "clinician"),
        "srs-ceiling": ("alliance", "info", "clinician"),
        "ors-deterioration": ("outcome", "high", "clinician"),
        "ors-not-improving": ("outcome", "medium", "clinician"),
        "attendance-withdrawal": ("alliance", "medium", "clinician"),
        "pulse-low": ("alliance", "medium", "clinician"),
        "withdrawal-telemetry": ("alliance", "low", "clinician"),
        "live-overrun": ("boundary", "info", "clinician"),
        "overrun-pattern": ("boundary", "low", "supervisor"),
        "off-hours-contact": ("boundary", "low", "supervisor"),
        "off-platform-contact": ("boundary", "medium", "compliance"),
        "consent-violation": ("consent", "high", "compliance"),
    }
    assert {rule for rule, spec in RULES.items() if spec.live} == {
        "pulse-low",
        "withdrawal-telemetry",
        "live-overrun",
    }


def test_shipped_yaml_is_exactly_the_defaults() -> None:
    assert DEFAULT_RULES_PATH.is_file()
    assert load_rules_config(DEFAULT_RULES_PATH) == RulesConfig()


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_rules_config(write(tmp_path, "")) == RulesConfig()


def test_partial_override_keeps_the_other_defaults(tmp_path: Path) -> None:
    config = load_rules_config(
        write(tmp_path, "srs:\n  cutoff: 34.5\nrules:\n  srs-drop: {severity: medium, audience: supervisor}\n")
    )
    assert config.srs.cutoff == 34.5
    assert config.srs.item_low == 8.0
    assert (config.severity("srs-drop"), config.audience("srs-drop")) == ("medium", "supervisor")
    assert config.enabled("srs-drop")
    assert (config.severity("srs-ceiling"), config.enabled("srs-ceiling")) == ("info", True)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("srs:\n  cuttoff: 36.0\n", "srs.cuttoff: unknown key"),
        ("thresholds:\n  x: 1\n", "thresholds: unknown key"),
        ("srs:\n  cutoff: -1.0\n", "srs.cutoff: Input should be greater than or equal to 0"),
        ("overrun:\n  live_minutes: -5\n", "overrun.live_minutes: Input should be greater than or equal to 0"),
        ("telemetry:\n  silence_s: -0.5\n", "telemetry.silence_s"),
        ("ors:\n  cutoffs:\n    adult: -25\n", "ors.cutoffs.adult"),
        ("ors:\n  cutoffs:\n    elderly: 20\n", "ors.cutoffs.elderly: unknown key"),
        ("rules:\n  srs-dorp: {enabled: false}\n", "rules.srs-dorp"),
        ("rules:\n  srs-drop: {severity: urgent}\n", "rules.srs-drop.severity"),
        ("rules:\n  srs-drop: {mute: true}\n", "rules.srs-drop.mute: unknown key"),
        ("srs:\n  cutoff: 35.95\n", "srs.cutoff: Value error, must have at most one decimal place"),
        ("overrun:\n  pattern_count: 6\n", "overrun: Value error, pattern_count cannot exceed pattern_last"),
        ("telemetry:\n  camera_on_below: 1.5\n", "telemetry.camera_on_below"),
    ],
)
def test_invalid_values_are_refused_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RulesConfigError) as error:
        load_rules_config(path)
    assert named in str(error.value)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [("srs: [\n", "not valid YAML"), ("- 1\n- 2\n", "must be a mapping")],
)
def test_unreadable_files_are_refused(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(RulesConfigError, match=says):
        load_rules_config(write(tmp_path, text))


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesConfigError, match="cannot read"):
        load_rules_config(tmp_path / "absent.yaml")


def test_thresholds_that_outgrow_the_kept_history_are_refused() -> None:
    with pytest.raises(ValueError, match="early_sessions"):
        RulesConfig.model_validate({"srs": {"early_sessions": 50}})
