"""Group buy input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.ids import USER_ID_PATTERN


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: Annotated[str, Field(min_length=1, max_length=64, description="a rule of type group_buy")]
    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN, description="the group's leader")]


class GroupOrderRead(BaseModel):
    user_id: str
    order_id: str
    at: str


class GroupRead(BaseModel):
    id: str = Field(description="also the `order.group_id` members pay with, and the share link's code")
    campaign_id: str
    rule_id: str
    leader: str
    code: str
    url: str = Field(description="the group's share link: it attributes like the leader's invite")
    members: list[str] = Field(description="users whose paid order counts for the group, in order of payment")
    orders: list[GroupOrderRead]
    group_size: int
    created_at: str
    expires_at: str
    status: str = Field(description="open, completed or failed")
    ended_at: str | None = Field(description="when it completed (the completing order's `at`) or failed")
