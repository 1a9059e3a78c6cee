"""The intake service's runtime type: the shared service runtime with its settings (it builds no parts)."""

from __future__ import annotations

from rapport_common.service import ServiceRuntime
from rapport_intake.settings import IntakeSettings

IntakeRuntime = ServiceRuntime[IntakeSettings, None]
