"""Reviews and the blocklist as the API takes and gives them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.fields import Line
from liveloop.kit.ids import USER_ID_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignalRead(BaseModel):
    code: str = Field(examples=["same_device"])
    detail: str


class ReviewRead(BaseModel):
    id: str
    campaign_id: str
    referrer: str
    referee: str
    risk: int = Field(ge=0, le=100)
    signals: list[SignalRead]
    reward_ids: list[str]
    status: str = Field(examples=["open", "approved", "denied"])
    opened_at: str
    decided_at: str | None
    decided_by: str | None = Field(description='"auto" when approved automatically')
    note: str | None


class ReviewsRead(BaseModel):
    reviews: list[ReviewRead]
    next_cursor: str | None


class DecisionIn(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    decision: Literal["approve", "deny"]


class DecisionsCreate(_Strict):
    decisions: Annotated[list[DecisionIn], Field(min_length=1, max_length=1000)]
    note: Line(1000) | None = None


class RejectedDecision(BaseModel):
    index: int
    error: dict


class DecisionsRead(BaseModel):
    decided: int = Field(description="reviews this request decided (a repeated decision decides nothing)")
    rejected: list[RejectedDecision]


class BlocklistUpdate(_Strict):
    devices: Annotated[list[Annotated[str, Field(pattern=USER_ID_PATTERN)]], Field(max_length=10_000)] = []
    networks: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=10_000)] = Field(
        default=[], examples=[["203.0.113.0/24"]])
    email_domains: Annotated[list[Annotated[str, Field(min_length=1, max_length=253)]],
                             Field(max_length=10_000)] = []


class BlocklistRead(BaseModel):
    devices: list[str]
    networks: list[str]
    email_domains: list[str]
