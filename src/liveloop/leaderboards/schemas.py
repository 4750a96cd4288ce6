"""The leaderboard as the API answers it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LeaderboardEntryRead(BaseModel):
    rank: int
    user_id: str
    display_name: str | None = Field(description="masked (\"S***\") where the market's policy asks for it")
    masked: bool
    score: int | str = Field(description="a count, or a decimal string when the metric is `gmv`")


class CircleEntryRead(BaseModel):
    """A circle's entry, when the leaderboard ranks circles (`leaderboard.by: "circle"`)."""

    rank: int
    circle_id: str
    name: str
    members: list[str]
    score: int | str = Field(description="the members' metric summed: a count, or a decimal string for `gmv`")


class LeaderboardRead(BaseModel):
    metric: str
    by: str = Field(description='"user", or "circle" when the campaign ranks circles (docs/social.md)')
    entries: list[LeaderboardEntryRead | CircleEntryRead]
    next_cursor: str | None = Field(default=None, description="set while more entries follow; null on the last page")
