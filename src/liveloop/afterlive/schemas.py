"""The sharer report as the API shows it (and `sharer.report` sends it, with `campaign_id`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FriendRead(BaseModel):
    user_id: str
    display_name: str | None = Field(description="only with the friend's consents.leaderboard_public")
    joined: bool = Field(description="a join that counts for the joins metric")
    ordered: bool = Field(description="a paid order, not refunded")


class MessageRead(BaseModel):
    locale: str
    subject: str
    body: str


class SharerReportRead(BaseModel):
    user_id: str
    clicks: int
    reservations: int
    joins: int
    orders: int
    gmv: str = Field(description="in the campaign currency")
    rank: int | None
    rewards: list[dict] = Field(description="the user's rewards, as GET .../rewards shows them")
    friends: list[FriendRead]
    message: MessageRead = Field(description="a thank-you in the sharer's language")
    page_url: str = Field(description="the sharer's results page: no login, valid 90 days after the end")
