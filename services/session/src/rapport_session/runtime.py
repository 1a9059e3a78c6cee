"""The session service's runtime type: the shared service runtime with its settings and the parts it builds."""

from __future__ import annotations

from dataclasses import dataclass

from rapport_common.service import ServiceRuntime
from rapport_session.consent_client import ConsentClient
from rapport_session.domain.message_flags import MessageFlagConfig
from rapport_session.settings import SessionSettings


@dataclass(frozen=True)
class SessionParts:
    flag_config: MessageFlagConfig
    consent: ConsentClient


SessionRuntime = ServiceRuntime[SessionSettings, SessionParts]
