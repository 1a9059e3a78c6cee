"""Settings of the session service (environment variables; see libs/common settings for the shared ones)."""

from pydantic import Field

from rapport_common.settings import ServiceSettings


class SessionSettings(ServiceSettings):
    service_name: str = "session"

    #: consumer group of the intake.events consumer; every instance sharing one database uses the same group
    intake_consumer_group: str = "session-intake"

    #: consumer group of the consent.events consumer that keeps the local consent view (same rule as above)
    consent_consumer_group: str = "session-consent"
    #: the local consent view answers only while its consumer caught up with consent.events within this many
    #: seconds (no staler than a cached answer of the consent service may be); otherwise the consent service
    #: must answer, and when it does not either, a consent question gets 503 + Retry-After
    consent_view_max_age_s: float = Field(default=10.0, gt=0, le=3600)

    #: base URL of the consent service, whose check endpoint answers "is scope S active for client X now?"
    consent_service_url: str = "http://127.0.0.1:8003"
    #: path of that check endpoint; query parameters ``client_id`` and ``scope``, answer ``{"active": bool}``
    consent_check_path: str = "/consents/check"
    #: generous: a timeout fails closed (refuses), so a briefly busy consent service must not look like "no consent"
    consent_timeout_s: float = Field(default=2.0, gt=0, le=10)
    #: how long an answer of the consent service is reused; short, so a revocation takes effect quickly
    consent_cache_ttl_s: float = Field(default=10.0, ge=0, le=300)

    #: a cancellation less than this many hours before the start is late (DOMAIN.md: 24)
    late_cancel_hours: float = Field(default=24.0, ge=0)
    #: the client is a no-show when not joined this many minutes after the scheduled start
    no_show_after_min: int = Field(default=15, ge=1, le=240)
    #: an overrun is reported this many minutes past the scheduled end, and every further such step
    overrun_step_min: int = Field(default=15, ge=1, le=240)
    #: how often the timer job looks for due timers (no-show, overrun)
    timer_poll_interval_s: float = Field(default=1.0, gt=0, le=60)

    #: most telemetry windows accepted in one request
    telemetry_max_windows: int = Field(default=1000, ge=1, le=10_000)
    #: messages longer than this are refused
    message_max_chars: int = Field(default=4000, ge=1, le=100_000)

    #: numbers the platform itself publishes (clinic lines): never flagged as off-platform contact
    clinic_phone_numbers: list[str] = Field(default_factory=list)
    #: the platform's own domains (links to them are not off-platform)
    platform_domains: list[str] = Field(default_factory=lambda: ["rapport.health"])
