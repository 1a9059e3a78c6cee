"""Settings of the consent service (environment variables; see libs/common settings for the shared ones)."""

from datetime import timedelta

from pydantic import Field

from rapport_common.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    service_name: str = "consent"
    consent_consumer_group: str = Field(default="consent", description="consumer group on intake.events")
    consent_expiry_interval_s: float = Field(default=5.0, gt=0, description="how often the expiry job runs")
    consent_expiry_batch: int = Field(default=500, ge=1, le=10_000)
    consent_backdate_tolerance_s: float = Field(
        default=300.0, ge=0, description="clock skew allowed for valid_from/effective_at in the past"
    )
    compliance_page_max: int = Field(default=500, ge=1, le=10_000)

    @property
    def backdate_tolerance(self) -> timedelta:
        """How far in the past a grant's ``valid_from`` or a revocation's ``effective_at`` may lie."""
        return timedelta(seconds=self.consent_backdate_tolerance_s)
