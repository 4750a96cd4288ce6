"""Flash deal input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from liveloop.kit.fields import Instant, Line


class FlashDealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    title: Line(200)
    starts_at: Instant
    early_minutes: Annotated[float, Field(ge=0, le=24 * 60, description="how long before starts_at holders of "
                                                                       "early_notice hear of it (fractions allowed)")]
    ends_at: Annotated[Instant | None, Field(description="when the deal ends: viewers' widgets take it down then "
                                                         "(none: it runs until the live ends)")] = None

    @field_validator("ends_at")
    @classmethod
    def _after_the_start(cls, value, info: ValidationInfo):
        starts = info.data.get("starts_at")
        if value is not None and starts is not None and value <= starts:
            raise ValueError("must be after starts_at")
        return value


class FlashDealRead(BaseModel):
    id: str
    title: str
    starts_at: str
    early_minutes: float
    early_at: str
    ends_at: str | None


class FlashDealsRead(BaseModel):
    flash_deals: list[FlashDealRead]
