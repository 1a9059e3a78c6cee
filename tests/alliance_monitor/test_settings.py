"""The rules config is chosen by RULES_CONFIG_PATH and a bad one is refused at start, naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from rapport_alliance_monitor.domain.config import DEFAULT_RULES_PATH
from rapport_alliance_monitor.settings import AllianceMonitorSettings

BASE = {"database_url": "postgresql://x@127.0.0.1/x", "jwt_secret": "s"}


def test_default_rules_and_hold_override() -> None:
    settings = AllianceMonitorSettings(**BASE)
    assert settings.rules_config_path == DEFAULT_RULES_PATH
    assert settings.rules_config().consent.hold_seconds == 10.0
    assert AllianceMonitorSettings(**BASE, consent_hold_seconds=2.5).rules_config().consent.hold_seconds == 2.5


def test_custom_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("srs:\n  cutoff: 34.0\nrules:\n  srs-ceiling: {enabled: false}\n")
    config = AllianceMonitorSettings(**BASE, rules_config_path=path).rules_config()
    assert config.srs.cutoff == 34.0 and not config.enabled("srs-ceiling")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("srs:\n  cutof: 34.0\n", "srs.cutof: unknown key"),
        ("srs:\n  cutoff: 36.05\n", "srs.cutoff"),
        ("overrun:\n  live_minutes: -1\n", "overrun.live_minutes"),
        ("[not, a, mapping]\n", "mapping"),
    ],
)
def test_bad_rules_file_is_refused(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        AllianceMonitorSettings(**BASE, rules_config_path=path)
    assert named in str(caught.value) and str(path) in str(caught.value)


def test_process_refuses_to_start_with_a_bad_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("pulse:\n  low_max: 9\n")
    env = {"DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "JWT_SECRET": "s", "RULES_CONFIG_PATH": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "rapport_alliance_monitor", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "RULES_CONFIG_PATH" in done.stderr and "pulse.low_max" in done.stderr
