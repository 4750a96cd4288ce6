"""Draw input as the API accepts it, and draws, runs and entries as it answers them."""

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


class DrawResultRead(BaseModel):
    seed: str
    entrants: int
    entrants_hash: str
    winners: list[str]
    run_at: str


class DrawPeriodRead(BaseModel):
    period: str
    starts_at: str
    ends_at: str
    status: str = Field(examples=["scheduled", "open", "closed"])
    seed_hash: str = Field(description="SHA-256 of the seed, committed before the period is run")
    result: DrawResultRead | None = Field(description="null until the period is run")


class DrawRead(BaseModel):
    rule_id: str
    period: str = Field(examples=["campaign", "hour"])
    timezone: str
    winners: int
    permit: str | None
    free_entry: bool
    periods: list[DrawPeriodRead]


class DrawPrizeRead(BaseModel):
    user_id: str
    display_name: str | None
    reward_id: str | None
    status: str | None
    reason: str | None


class DrawRunRead(BaseModel):
    rule_id: str
    period: str
    seed_hash: str
    seed: str
    entrants: int = Field(description="how many were entered")
    entrants_hash: str
    winners: list[str] = Field(description="user ids in draw order")
    prizes: list[DrawPrizeRead] = Field(description="each winner's display name and prize in the ledger")
    algorithm: str
    run_at: str


class DrawEntryRead(BaseModel):
    rule_id: str
    period: str
    user_id: str
    entered_at: str


class DrawEntrantsRead(BaseModel):
    rule_id: str
    period: str
    count: int
    entrants_hash: str = Field(description="SHA-256 of the entrant ids joined as lines, each followed by a newline")
    entrants: list[str] = Field(description="user ids sorted by their UTF-8 bytes")
