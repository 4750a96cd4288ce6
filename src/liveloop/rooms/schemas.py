"""Room-user mapping input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from liveloop.kit.ids import USER_ID_PATTERN


class RoomUserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN, description="the shop's own id of this viewer")]


class RoomUserRead(BaseModel):
    campaign_id: str
    provider_uid: str
    user_id: str


class ClosedWithoutLeaveRead(BaseModel):
    timeout: int = Field(description="presences closed because their beats stopped")
    room_end: int = Field(description="presences still open when the room ended")
    total: int


class RoomReportRead(BaseModel):
    """The room section of a campaign report (rooms/views.py)."""

    viewers: int
    present: int
    watch_seconds: int
    min_watch_seconds: int
    closed_without_leave: ClosedWithoutLeaveRead
