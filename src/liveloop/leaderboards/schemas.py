"""The leaderboard as the API answers it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LeaderboardEntryRead(BaseModel):
    rank: int
    user_id: str
    display_name: str | None = Field(description="masked (\"S***\") where the market's policy asks for it")
    masked: bool
    score: int | str = Field(description="a count, or a decimal string when the metric is `gmv`")


class LeaderboardRead(BaseModel):
    metric: str
    entries: list[LeaderboardEntryRead]
    next_cursor: str | None = Field(default=None, description="set while more entries follow; null on the last page")
