"""FX rates as the API takes and answers them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.fields import Day, Rate


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    base: Annotated[str, Field(alias="from", pattern=r"^[A-Z]{3}$")]
    quote: Annotated[str, Field(alias="to", pattern=r"^[A-Z]{3}$")]
    rate: Rate
    valid_from: Day


class RatesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rates: Annotated[list[RateIn], Field(min_length=1, max_length=1000)]


class RateRead(BaseModel):
    base: str = Field(alias="from")
    quote: str = Field(alias="to")
    rate: str = Field(description="1 `from` = `rate` `to`, as a decimal string")
    valid_from: str = Field(description="the first day (UTC) the rate applies to")


class FxRatesRead(BaseModel):
    rates: list[RateRead]
