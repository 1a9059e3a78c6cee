"""Base class for event payloads: strict types, unknown fields ignored (tolerant reader)."""

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
