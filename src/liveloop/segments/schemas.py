"""Segment input and output."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from liveloop.kit.fields import Line
from liveloop.kit.ids import USER_ID_PATTERN
from liveloop.segments.service import MAX_USERS_PER_CALL

UserIds = Annotated[list[Annotated[str, Field(pattern=USER_ID_PATTERN)]],
                    Field(min_length=1, max_length=MAX_USERS_PER_CALL)]


class SegmentFrom(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    metric: Literal["reservations", "joins", "orders", "gmv"]
    top: Annotated[int, Field(ge=1, le=MAX_USERS_PER_CALL)]


class SegmentPut(BaseModel):
    """Either `user_ids` (up to 100,000 per call) or `from` a past campaign's top N referrers by a metric."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Line(200)
    user_ids: UserIds | None = None
    from_: SegmentFrom | None = Field(default=None, alias="from")

    @model_validator(mode="after")
    def _one_source(self) -> SegmentPut:
        if (self.user_ids is None) == (self.from_ is None):
            raise ValueError('a segment is given either its "user_ids" or "from" a past campaign')
        return self


class SegmentMembersAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: UserIds


class SegmentRead(BaseModel):
    id: str
    name: str
    version: int = Field(description="grows with every change; a rule's audience keeps the version it was set with")
    members: int = Field(description="how many users the current version holds")
    source: dict = Field(description='{"user_ids": n} or the `from` it was taken from')
    created_at: str
    updated_at: str
