"""Settings of the intake service (environment variables; see libs/common settings for the shared ones)."""

from rapport_common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
