"""Draw input as the API accepts it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.ids import USER_ID_PATTERN

PeriodName = Annotated[str, Field(min_length=1, max_length=32, examples=["campaign", "2027-03-01T21"])]


class DrawRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: PeriodName | None = Field(
        default=None, description="the period to run; by default the latest one that has ended")


class FreeEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN)]
    period: PeriodName | None = Field(
        default=None, description="the period to enter; by default the first one that has not ended")
