"""User input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.fields import Line
from liveloop.kit.limits import MAX_CONSENTS

ConsentKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["leaderboard_public"])]


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None
    locale: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$", max_length=35)] | None = None
    display_name: Line(200) | None = None
    consents: Annotated[dict[ConsentKey, bool], Field(max_length=MAX_CONSENTS)] | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$", max_length=320,
                                description="kept only as a normalized hash and its domain (fraud signals); "
                                            "never returned")] | None = None


class UserRead(BaseModel):
    user_id: str
    market: str
    locale: str | None
    display_name: str | None
    consents: dict[str, bool]
