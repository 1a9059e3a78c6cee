"""The pure domain core of the alliance-monitor: state, consent gate, rules and engine (no I/O).

The wiring calls :func:`state_keys` to know which rows to load, :func:`decide` to know whether to hold an
event for its consent, and :func:`evaluate` to get the new state and the alert decisions to publish.
"""

from rapport_alliance_monitor.domain.alerts import AlertDecision, Raise, Resolve, Update, alert_id
from rapport_alliance_monitor.domain.config import RulesConfig, RulesConfigError, load_rules_config
from rapport_alliance_monitor.domain.consent_gate import ConsentDecision, decide, is_active
from rapport_alliance_monitor.domain.engine import EvaluationResult, StateKeys, evaluate, state_keys
from rapport_alliance_monitor.domain.rules import RULES, Rule
from rapport_alliance_monitor.domain.state import ClientState, ClinicianState, MonitorState, PairState

__all__ = [
    "RULES",
    "AlertDecision",
    "ClientState",
    "ClinicianState",
    "ConsentDecision",
    "EvaluationResult",
    "MonitorState",
    "PairState",
    "Raise",
    "Resolve",
    "Rule",
    "RulesConfig",
    "RulesConfigError",
    "StateKeys",
    "Update",
    "alert_id",
    "decide",
    "evaluate",
    "is_active",
    "load_rules_config",
    "state_keys",
]
