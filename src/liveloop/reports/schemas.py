"""A user's progress and the campaign report as the API answers them (reports/views.py builds them)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from liveloop.rewards.schemas import RewardRead
from liveloop.rooms.schemas import RoomReportRead

Score = int | str  # a count, or a decimal string when the leaderboard's metric is `gmv`
_ABSENT = {"exclude_if": lambda value: value is None}  # left out of the answer rather than null


class MetricsRead(BaseModel):
    clicks: int
    referees: int
    reservations: int
    joins: int
    orders: int
    gmv: str = Field(description="decimal string in the campaign currency")


class MilestoneRewardRead(BaseModel):
    """What the next tier grants: only the fields that apply to its kind."""

    kind: str
    amount: str | None = Field(None, **_ABSENT)
    percent_off: str | None = Field(None, **_ABSENT)
    currency: str | None = Field(None, **_ABSENT)
    points: int | None = Field(None, **_ABSENT)
    sku: str | None = Field(None, **_ABSENT)
    name: str | None = Field(None, **_ABSENT)
    content: str | None = Field(None, **_ABSENT)


class NextMilestoneRead(BaseModel):
    rule_id: str
    metric: str
    at: Score
    remaining: Score
    reward: MilestoneRewardRead


class DrawEligibilityRead(BaseModel):
    rule_id: str
    period: str
    eligible: bool


class ProgressRead(BaseModel):
    user_id: str
    referrer: str | None
    metrics: MetricsRead
    score: Score
    rank: int | None
    rewards: list[RewardRead]
    next_milestone: NextMilestoneRead | None
    draws: list[DrawEligibilityRead]


class FunnelRead(BaseModel):
    clicks: int
    users: int
    reservations: int
    joins: int
    orders: int
    gmv: str = Field(description="decimal string in the report's `currency`")


class ReferrerRowRead(BaseModel):
    user_id: str
    display_name: str | None
    clicks: int
    referees: int
    reservations: int
    joins: int
    orders: int
    gmv: str
    rewards: int = Field(description="rewards issued to the referrer (available or pending)")
    rank: int | None


class BudgetRead(BaseModel):
    total: str | None = Field(description="null when the campaign has no budget")
    used: str


class SegmentReportRead(BaseModel):
    members: int = Field(description="users in the segment (the version the campaign's rules use)")
    sharing: int = Field(description="members who shared (a `share` event), or whose links were clicked or "
                                     "brought someone")
    referees: int = Field(description="users the members brought")
    orders: int = Field(description="paid orders of those users, less the refunded ones")
    gmv: str


class ReportRead(BaseModel):
    currency: str
    funnel: FunnelRead
    referred: FunnelRead
    organic: FunnelRead
    referrers: list[ReferrerRowRead]
    inviters: int = Field(description="users holding an invite link of the campaign")
    k_factor: float | None
    k_factor_definition: str
    budget: BudgetRead
    rewards: dict[str, int] = Field(description="rewards by status")
    room: RoomReportRead
    segments: dict[str, SegmentReportRead] = Field(
        description="per segment that an `audience` of the campaign's rules names (docs/social.md)")
