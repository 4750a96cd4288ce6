"""Invite input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.ids import CODE_PATTERN, USER_ID_PATTERN


class InviteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN)]
    channel: Annotated[str, Field(pattern=r"^[a-z0-9_-]{0,32}$")] = ""
    code: Annotated[str, Field(pattern=CODE_PATTERN)] | None = None


class InviteRead(BaseModel):
    code: str
    url: str = Field(description="the share link: GET it to be redirected to the campaign's landing URL")
    user_id: str
    channel: str
