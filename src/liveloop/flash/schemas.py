"""Flash deal input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.fields import Instant, Line


class FlashDealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    title: Line(200)
    starts_at: Instant
    early_minutes: Annotated[float, Field(ge=0, le=24 * 60, description="how long before starts_at holders of "
                                                                       "early_notice hear of it (fractions allowed)")]


class FlashDealRead(BaseModel):
    id: str
    title: str
    starts_at: str
    early_minutes: float
    early_at: str


class FlashDealsRead(BaseModel):
    flash_deals: list[FlashDealRead]
