"""Settings of the alliance-monitor service (environment variables; see libs/common settings for the shared ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from rapport_alliance_monitor.domain.config import DEFAULT_RULES_PATH, RulesConfig, load_rules_config
from rapport_common.events import consent, feedback, intake, session
from rapport_common.settings import ServiceSettings

#: the topics the monitor reads (EVENTS.md); a deployment may rename them, the event types stay the contract's
DEFAULT_TOPICS = [intake.TOPIC, consent.TOPIC, session.TOPIC, feedback.TOPIC]


class AllianceMonitorSettings(ServiceSettings):
    service_name: str = "alliance-monitor"

    #: YAML rules config (thresholds per organisation); a bad file is refused at start naming the key
    rules_config_path: Path = DEFAULT_RULES_PATH
    #: overrides the rules config's ``consent.hold_seconds`` (processing time an event waits for its consent)
    consent_hold_seconds: float | None = Field(default=None, ge=0.0, le=3600.0)
    #: how often the hold job looks for holds whose time is up
    consent_hold_poll_s: float = Field(default=0.5, gt=0.0, le=60.0)
    #: one consumer group over every input topic; instances of one deployment share it
    consumer_group: str = "alliance-monitor"
    consume_topics: list[str] = Field(default_factory=lambda: list(DEFAULT_TOPICS), min_length=1)
    #: of ``consume_topics``, those read ahead (by contract name or the deployment's own): an event of the other
    #: topics is released only once the read-first partitions of its partition number are read to their end,
    #: so grants come before the events they cover and events wait in a consent hold only for a grant not yet
    #: published. The other topics are merged by event time (``domain/order.py``).
    read_first_topics: list[str] = Field(default_factory=lambda: [consent.TOPIC])
    #: how many records one merged partition may hold back waiting for its group (then it is paused)
    max_held_per_partition: int = Field(default=2_000, ge=1)
    #: SSE comment line sent when nothing else was, so proxies keep the stream open
    sse_heartbeat_s: float = Field(default=15.0, gt=0.0, le=300.0)
    #: fallback poll of the alert history when no NOTIFY arrived (a lost listener connection)
    sse_poll_s: float = Field(default=2.0, gt=0.0, le=60.0)

    @field_validator("rules_config_path")
    @classmethod
    def _rules_config_loads(cls, value: Path) -> Path:
        load_rules_config(value)  # RulesConfigError is a ValueError: the message names file and key
        return value

    def rules_config(self) -> RulesConfig:
        config = load_rules_config(self.rules_config_path)
        if self.consent_hold_seconds is None:
            return config
        consent_rules = config.consent.model_copy(update={"hold_seconds": self.consent_hold_seconds})
        return config.model_copy(update={"consent": consent_rules})
