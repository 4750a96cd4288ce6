"""Rewards as the API answers them (rewards/views.py builds them from the engine's ledger)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RewardStepRead(BaseModel):
    status: str
    reason: str | None
    cause_event_id: str | None = Field(description="null for a step the hold caused (`hold_elapsed`)")
    at: str
    fraud: dict | None = Field(default=None, description="present when a fraud check or a review decided this step: "
                                                         "`{risk, signals}` or `{decision, decided_by}`")


class RewardRead(BaseModel):
    """One reward: what it grants (fields that do not apply to its kind are null), its status and history."""

    id: str
    rule_id: str
    user_id: str
    role: str = Field(examples=["referrer", "referee", "achiever", "winner"])
    kind: str
    amount: str | None = Field(description="decimal string in `currency`")
    percent_off: str | None
    currency: str | None
    points: int | None
    sku: str | None
    name: str | None
    content: str | None
    status: str = Field(examples=["available", "pending", "void", "declined"])
    reason: str | None
    cause_event_id: str
    created_at: str
    available_at: str | None
    history: list[RewardStepRead]


class RewardsRead(BaseModel):
    rewards: list[RewardRead]
    next_cursor: str | None = Field(description="set while more entries follow; null on the last page")
