"""Settings of the session service (environment variables; see libs/common settings for the shared ones)."""

from rapport_common.settings import ServiceSettings


class SessionSettings(ServiceSettings):
    service_name: str = "session"
