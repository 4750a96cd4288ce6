"""The market catalogue, calendars and schedule suggestions as the API answers them (SPEC section 4)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TimeWindowRead(BaseModel):
    """A daily local window; one whose `to` is not after its `from` ends the next day."""

    start: str = Field(alias="from", examples=["19:00"])
    end: str = Field(alias="to", examples=["23:00"])


class PromoValueLimitRead(BaseModel):
    percent: int
    programme_percent: int | None = Field(description="the limit inside a state-run promotion programme")
    source: str


class AmountRead(BaseModel):
    amount: str
    currency: str


class ContentPolicyRead(BaseModel):
    """Lexicon categories that refuse a campaign, and those that only warn."""

    errors: list[str]
    warnings: list[str]


class PolicyRuleRead(BaseModel):
    code: str = Field(description="the code a refusal carries and a waiver names")
    restriction: str
    basis: str
    source: str


class MarketPolicyRead(BaseModel):
    draw_permit_required: bool
    promo_permit_required: bool
    purchase_linked_draw_forbidden: bool
    free_entry_required: bool
    sharing_may_be_required: bool
    leaderboard_mask_names_without_consent: bool
    rtl: bool
    promo_value_limit: PromoValueLimitRead | None
    draw_permit_above: AmountRead | None = Field(
        description="draws need their permit only when their prizes total more than this")
    permit_authority: str | None
    draw_period_max_days: int | None
    draw_conditions: str | None
    content: ContentPolicyRead
    cites: dict[str, str] = Field(description="restriction in force -> its source")
    rules: list[PolicyRuleRead]
    sources: list[str]


class MarketRead(BaseModel):
    code: str
    name: str
    region: str
    currency: str
    timezone: str
    timezones: list[str]
    locales: list[str]
    default_locale: str
    prime_time: list[TimeWindowRead]
    ramadan_prime_time: list[TimeWindowRead] = Field(description="replaces prime_time on days of Ramadan")
    payment_methods: list[str]
    policy: MarketPolicyRead


class MarketListRead(BaseModel):
    markets: list[MarketRead]


class CalendarDayRead(BaseModel):
    date: str
    name: str
    kind: str = Field(examples=["public", "commercial", "religious"])


class CalendarRead(BaseModel):
    market: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    days: list[CalendarDayRead]


class ScheduleHolidayRead(CalendarDayRead):
    market: str


class ScheduleSuggestionRead(BaseModel):
    start: str
    end: str
    latest_start: str
    local: dict[str, str] = Field(description="the start in each market's local time")
    prime_time_coverage: dict[str, float] = Field(description="share of the slot in each market's prime time")
    score: float
    holidays: list[ScheduleHolidayRead]


class ScheduleSuggestionsRead(BaseModel):
    suggestions: list[ScheduleSuggestionRead]
