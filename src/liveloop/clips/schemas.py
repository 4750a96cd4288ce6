"""Clip input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.campaigns.schemas import LANDING_URL_PATTERN
from liveloop.kit.fields import Line
from liveloop.kit.ids import USER_ID_PATTERN

HttpsUrl = Annotated[str, Field(max_length=2000, pattern=LANDING_URL_PATTERN)]


class ClipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    title: Line(200)
    url: HttpsUrl = Field(description="where the clip's share links land: https, on one of the tenant's allowed hosts",
                          examples=["https://shop.example.com/replays/spring-highlights"])
    thumbnail_url: HttpsUrl | None = Field(default=None, description="an https image shown on sharers' pages")


class ClipRead(BaseModel):
    id: str
    title: str
    url: str
    thumbnail_url: str | None
    created_at: str


class ClipList(BaseModel):
    clips: list[ClipRead]


class ClipInviteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN)]


class ClipInviteRead(BaseModel):
    code: str
    url: str
    user_id: str
    clip_id: str
