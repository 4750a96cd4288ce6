"""Integration input and output."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Provider = Literal["agora", "livekit"]
# Providers issue printable ASCII credentials; anything else is a paste accident (or a NUL byte,
# which PostgreSQL text cannot hold).
_VISIBLE_ASCII = r"^[\x21-\x7e]+$"


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    secret: Annotated[str, Field(min_length=8, max_length=512, pattern=_VISIBLE_ASCII,
                                 description="Agora: the notification secret; LiveKit: the API secret")]
    api_key: Annotated[str, Field(min_length=1, max_length=256, pattern=_VISIBLE_ASCII,
                                  description="LiveKit: the API key")] | None = None


class IntegrationUpdate(BaseModel):
    """A new secret (rotation, or the one the provider's console showed after the URL was pasted)."""

    model_config = ConfigDict(extra="forbid")

    secret: Annotated[str, Field(min_length=8, max_length=512, pattern=_VISIBLE_ASCII)]
    api_key: Annotated[str, Field(min_length=1, max_length=256, pattern=_VISIBLE_ASCII)] | None = None


class IntegrationRead(BaseModel):
    id: str
    provider: Provider
    url: str
