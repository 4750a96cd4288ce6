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


class NextMilestoneRead(BaseModel):
    rule_id: str
    metric: str
    at: int | str
    remaining: int | str
    reward: dict
    reward_text: str = Field(description="the reward in the viewer's words")
    done: float = Field(description="the share of the way there, 0 to 1")


class ViewerRewardRead(BaseModel):
    id: str
    status: str
    text: str


class ViewerDrawRead(BaseModel):
    rule_id: str
    period: str
    entered: bool


class ViewerGroupRead(BaseModel):
    group_id: str
    rule_id: str
    leader: str
    members: list[str] = Field(description="the users who have paid into the group")
    group_size: int
    expires_at: str
    status: str
    url: str = Field(description="the group's share link")


class ViewerFlashDealRead(BaseModel):
    phase: str = Field(description="start, or early for a holder of early_notice before the deal's start")
    id: str
    title: str
    starts_at: str
    early_minutes: float
    early_at: str
    ends_at: str | None


class ViewerProgressRead(BaseModel):
    user_id: str
    metric: str
    score: int | str
    rank: int | None
    next_milestone: NextMilestoneRead | None
    rewards: list[ViewerRewardRead] = Field(description="available and pending rewards")
    draws: list[ViewerDrawRead]
    groups: list[ViewerGroupRead] = Field(description="the open group buys the viewer leads or has joined")
    flash_deals: list[ViewerFlashDealRead] = Field(description="the flash deals announced to the viewer that have "
                                                               "not ended, as their `flash_deal` messages said them")
    share_apps: list[str] = Field(description="the share sheet's apps, most used in the campaign's market first")
    locale: str
