"""Campaign input as the API accepts it (validated by Pydantic for OpenAPI and clear errors)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from liveloop.kit.fields import Count, Instant, Line, Lines, Money, Percent, Quantity
from liveloop.kit.limits import MAX_COUNT, MAX_HOURLY_DRAW_DAYS
from liveloop.kit.money import known_currencies
from liveloop.markets.catalogue import RULE_CODES, load_catalogue

# https, printable ASCII: a Location header holds nothing else (percent-encode the rest, punycode hosts).
LANDING_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]://[\x21-\x7e]+$"
Metric = Literal["reservations", "joins", "orders", "gmv"]
RuleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
CampaignId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
MAX_REMINDER_MINUTES = 30 * 24 * 60
# An authority's reference (a permit or programme number): one line of text.
Reference = Line(200)
# Any rule's code may be named; the market's policy refuses a waiver of a `law` rule (SPEC section 6).
PolicyCode = Literal[tuple(sorted(set(RULE_CODES.values())))]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RewardIn(_Strict):
    kind: Literal["coupon", "cashback", "points", "free_item", "badge", "privilege", "unlock"]
    amount: Money | None = None
    percent_off: Percent | None = None
    points: Count | None = None
    sku: Line(128) | None = None
    name: Line(200) | None = None
    content: Lines(500, min_length=1) | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> RewardIn:
        needed = {
            "cashback": ("amount",),
            "points": ("points",),
            "free_item": ("sku",),
            "badge": ("name",),
            "privilege": ("name",),
            "unlock": ("content",),
        }.get(self.kind)
        if self.kind == "coupon":
            if (self.amount is None) == (self.percent_off is None):
                raise ValueError("a coupon has either an amount or a percent_off")
        elif needed and any(getattr(self, f) is None for f in needed):
            raise ValueError(f"a {self.kind} reward needs {', '.join(needed)}")
        return self


class AudienceIn(_Strict):
    """Only the members of a segment earn from the rule (seed users' exclusive tasks, docs/social.md)."""

    segment: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    version: Annotated[int, Field(ge=1, description="the segment's version the rule uses; its current one when "
                                                    "the campaign is created or the rule set")] | None = None


class ReservationReferralIn(_Strict):
    id: RuleId
    type: Literal["reservation_referral"]
    audience: AudienceIn | None = None
    referrer_reward: RewardIn
    referee_reward: RewardIn | None = None
    max_per_referrer: Count | None = None


class TierIn(_Strict):
    at: Annotated[Quantity, Field(gt=0)] = Field(description="count, or an amount for the gmv metric")
    reward: RewardIn


class MilestoneIn(_Strict):
    id: RuleId
    type: Literal["milestone"]
    audience: AudienceIn | None = None
    metric: Metric
    tiers: Annotated[list[TierIn], Field(min_length=1, max_length=50)]
    scope: Literal["user", "circle"] | None = Field(
        default=None, description='"circle": the members\' metric summed, each tier granted to every member '
                                  '(docs/social.md); "user" by default')

    @model_validator(mode="after")
    def _increasing(self) -> MilestoneIn:
        ats = [t.at for t in self.tiers]
        if ats != sorted(set(ats)):
            raise ValueError("tiers must be listed with strictly increasing `at`")
        if self.metric != "gmv" and any(a != a.to_integral_value() or a > MAX_COUNT for a in ats):
            raise ValueError(f"tiers of {self.metric} are whole counts up to {MAX_COUNT}")
        return self


class OrderCommissionIn(_Strict):
    id: RuleId
    type: Literal["order_commission"]
    audience: AudienceIn | None = None
    percent: Percent
    hold_days: Annotated[int, Field(ge=0, le=365)] = 0
    attribution_days: Annotated[int, Field(ge=0, le=365)] = 0


class DrawEntryIn(_Strict):
    metric: Metric | None = None
    at_least: Count | None = None
    event: Literal["share"] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> DrawEntryIn:
        by_metric = self.metric is not None and self.at_least is not None
        by_event = self.event is not None
        if by_metric == by_event or (self.metric is None) != (self.at_least is None):
            raise ValueError('entry is either {"metric": M, "at_least": N} or {"event": "share"}')
        return self


class DrawIn(_Strict):
    id: RuleId
    type: Literal["draw"]
    audience: AudienceIn | None = None
    entry: DrawEntryIn
    period: Literal["campaign", "hour"] = "campaign"
    winners: Annotated[int, Field(ge=1, le=10_000)]
    prize: RewardIn
    permit: Reference | None = Field(default=None, description="the authority's reference for this draw")
    free_entry: bool = False


MAX_GROUP_WINDOW_MINUTES = 7 * 24 * 60


class GroupBuyIn(_Strict):
    """A group buy (拼团): `group_size` distinct users pay for `sku` with the group's id within
    `window_minutes` of the group's creation; each of them gets `reward` (docs/social.md)."""

    id: RuleId
    type: Literal["group_buy"]
    audience: AudienceIn | None = None
    sku: Line(128)
    group_size: Annotated[int, Field(ge=2, le=100)]
    window_minutes: Annotated[float, Field(ge=0.05, le=MAX_GROUP_WINDOW_MINUTES,
                                           description="minutes, fractions allowed (at least 0.05: 3 seconds)")]
    reward: RewardIn


RuleIn = Annotated[
    ReservationReferralIn | MilestoneIn | OrderCommissionIn | DrawIn | GroupBuyIn, Field(discriminator="type")
]


class LeaderboardIn(_Strict):
    metric: Metric = "joins"
    public: bool = True
    by: Literal["user", "circle"] | None = Field(
        default=None, description='"circle": circles ranked by their members\' metric summed; "user" by default')


class FraudIn(_Strict):
    """What a referral's risk (0..100, docs/fraud.md) leads to: held for review, or declined."""

    review_at: Annotated[int, Field(ge=0, le=101)] = 50
    decline_at: Annotated[int, Field(ge=0, le=101)] = 90
    auto_approve_hours: Annotated[int, Field(ge=1, le=24 * 90)] = 72
    velocity_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 10

    @model_validator(mode="after")
    def _ordered(self) -> FraudIn:
        if self.decline_at < self.review_at:
            raise ValueError("decline_at must not be below review_at")
        return self


class RoomIn(_Strict):
    provider: Literal["agora", "livekit"]
    channel: Line(128)


# Fields a campaign is created with and may later change (PATCH), in one place.
Title = Line(200)
Description = Lines(2000)
ShareText = Lines(500, description="what viewers share with their link")
LandingUrl = Annotated[str, Field(max_length=2000, pattern=LANDING_URL_PATTERN,
                                  examples=["https://shop.example.com/live/spring"])]
Rules = Annotated[list[RuleIn], Field(max_length=50)]
CampaignPermit = Annotated[Reference, Field(description="the authority's reference for the campaign's discounts and "
                                                        "premiums, where the market requires one (PH)")]
Programme = Annotated[Reference, Field(description="the state-run promotion programme the campaign is part of (VN: "
                                                   "discounts up to 100%)")]
Waive = Annotated[list[PolicyCode], Field(
    max_length=len(RULE_CODES), description="liveloop defaults of the market this campaign goes without (a law "
                                            "cannot be waived)", examples=[["policy.free_entry_required"]])]


class ReminderIn(_Strict):
    before_minutes: Annotated[int, Field(ge=1, le=MAX_REMINDER_MINUTES,
                                         description="how long before starts_at (moved out of the night: "
                                                     "docs/after-the-live.md)")]


class CampaignCreate(_Strict):
    id: CampaignId
    title: Title
    description: Description | None = None
    share_text: ShareText | None = None
    # The schema lists the codes taken (the catalogue's markets, ISO 4217 currencies).
    market: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", json_schema_extra={"enum": list(load_catalogue())})]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$",
                                   json_schema_extra={"enum": sorted(known_currencies())})] | None = None
    timezone: Line(64, description="an IANA time zone; the market's by default") | None = None
    starts_at: Instant
    ends_at: Instant
    landing_url: LandingUrl
    budget: Money | None = None
    leaderboard: LeaderboardIn = Field(default_factory=LeaderboardIn)
    rules: Rules = Field(default_factory=list)
    room: RoomIn | None = None
    min_watch_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None
    max_circle_size: Annotated[int, Field(ge=2, le=50,
                                          description="members a circle may have (8 by default)")] | None = None
    fraud: FraudIn | None = Field(default=None, description="fraud review thresholds (defaults when omitted)")
    permit: CampaignPermit | None = None
    promotion_programme: Programme | None = None
    waive: Waive | None = None
    # After the live (docs/after-the-live.md).
    report_delay_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = Field(
        default=30, description="how long after ends_at each sharer's report is sent (`sharer.report`)")
    follow_up_of: Annotated[list[CampaignId], Field(min_length=1, max_length=20,
                                                    json_schema_extra={"uniqueItems": True})] | None = Field(
        default=None, description="earlier campaigns of the tenant whose invite and clip codes this one accepts as "
                                  "`ref` (a follow-up live)")
    reminders: Annotated[list[ReminderIn], Field(min_length=1, max_length=10,
                                                 json_schema_extra={"uniqueItems": True})] | None = Field(
        default=None, description="`reminder.due` to every user with a reservation, this long before starts_at",
        examples=[[{"before_minutes": 1440}, {"before_minutes": 60}]])

    @field_validator("follow_up_of")
    @classmethod
    def _distinct_campaigns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(value) != len(set(value)):
            raise ValueError("names each campaign once")
        return value

    @field_validator("reminders")
    @classmethod
    def _distinct_reminders(cls, value: list[ReminderIn] | None) -> list[ReminderIn] | None:
        if value is not None and len({r.before_minutes for r in value}) != len(value):
            raise ValueError("names each before_minutes once")
        return value

    @model_validator(mode="after")
    def _window_and_rules(self) -> CampaignCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        # One draw period per hour: a long window would make thousands of them.
        if self.ends_at - self.starts_at > timedelta(days=MAX_HOURLY_DRAW_DAYS) and any(
                isinstance(r, DrawIn) and r.period == "hour" for r in self.rules):
            raise ValueError(f"a campaign with an hourly draw lasts at most {MAX_HOURLY_DRAW_DAYS} days")
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique in the campaign")
        if self.waive is not None and len(self.waive) != len(set(self.waive)):
            raise ValueError("waive names each rule once")
        return self


# What a PATCH may name; the others (id, market, currency, time zone, leaderboard, room,
# min_watch_seconds) are the campaign's identity and never change.
_REQUIRED = ("title", "landing_url", "starts_at", "ends_at", "rules")


class CampaignUpdate(_Strict):
    """The fields to change, each replacing the campaign's own (`rules`: the whole list). Before
    `starts_at` any of them may change (a rule only while it has granted nothing); once the
    campaign is live only `budget`, upwards. `null` removes an optional field (`budget: null`: no
    budget). The result is checked like a new campaign, market policy included."""

    title: Title | None = None
    description: Description | None = None
    share_text: ShareText | None = None
    landing_url: LandingUrl | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    budget: Money | None = None
    rules: Rules | None = None
    permit: CampaignPermit | None = None
    promotion_programme: Programme | None = None
    waive: Waive | None = None

    @field_validator(*_REQUIRED, mode="before")
    @classmethod
    def _required_stay(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be removed (only optional fields can be null)")
        return value
