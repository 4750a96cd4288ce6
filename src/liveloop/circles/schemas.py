"""Circle input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.fields import Line
from liveloop.kit.ids import USER_ID_PATTERN

CircleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
UserId = Annotated[str, Field(pattern=USER_ID_PATTERN)]


class CircleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CircleId
    owner: UserId = Field(description="the circle's first member")
    name: Line(200, min_length=1)


class CircleMemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId


class CircleRead(BaseModel):
    id: str
    owner: str
    name: str
    members: list[str]
    max_circle_size: int
    metric: str = Field(description="the campaign's leaderboard metric")
    score: int | str = Field(description="the members' metric summed (gmv: a decimal string)")
    rank: int | None = Field(description="the circle's rank when the leaderboard ranks circles")
    created_at: str
