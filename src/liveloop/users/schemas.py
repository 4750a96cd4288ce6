"""User input."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None
    locale: Annotated[str, Field(min_length=2, max_length=35)] | None = None
    display_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    consents: dict[str, bool] | None = None
