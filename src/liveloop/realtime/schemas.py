"""Viewer-token input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.realtime.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS


class ViewerTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN)]
    ttl_seconds: Annotated[int, Field(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] = 3600


class ViewerTokenRead(BaseModel):
    token: str
    expires_at: str
