"""Settings of the consent service (environment variables; see libs/common settings for the shared ones)."""

from rapport_common.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    service_name: str = "consent"
