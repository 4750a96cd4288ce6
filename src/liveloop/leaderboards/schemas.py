"""The leaderboard as the API answers it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LeaderboardEntryRead(BaseModel):
    """A user's entry; or, when the leaderboard ranks circles (`by: "circle"`), a circle's."""

    rank: int
    user_id: str | None = Field(default=None, description="a user's entry")
    display_name: str | None = Field(default=None,
                                     description="masked (\"S***\") where the market's policy asks for it")
    masked: bool | None = None
    circle_id: str | None = Field(default=None, description="a circle's entry (`leaderboard.by: \"circle\"`)")
    name: str | None = Field(default=None, description="the circle's name")
    members: list[str] | None = Field(default=None, description="the circle's members")
    score: int | str = Field(description="a count, or a decimal string when the metric is `gmv`")


class LeaderboardRead(BaseModel):
    metric: str
    by: str = Field(default="user", description='"user" or "circle"')
    entries: list[LeaderboardEntryRead]
