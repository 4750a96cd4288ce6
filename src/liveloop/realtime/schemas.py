"""Viewer-token input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.realtime.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS


class ViewerTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No control characters: ids are shown in the console and PostgreSQL text cannot hold NUL.
    user_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
    ttl_seconds: Annotated[int, Field(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] = 3600


class ViewerTokenRead(BaseModel):
    token: str
    expires_at: str
