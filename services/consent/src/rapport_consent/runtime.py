"""The consent service's runtime type: the shared service runtime with its settings (it builds no parts)."""

from __future__ import annotations

from rapport_common.service import ServiceRuntime
from rapport_consent.settings import ConsentSettings

ConsentRuntime = ServiceRuntime[ConsentSettings, None]
