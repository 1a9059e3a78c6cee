"""Settings of the alliance-monitor service (environment variables; see libs/common settings for the shared ones)."""

from rapport_common.settings import ServiceSettings


class AllianceMonitorSettings(ServiceSettings):
    service_name: str = "alliance-monitor"
