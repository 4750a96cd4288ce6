"""Market catalogue, calendars and schedule suggestions."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest
from babel.numbers import list_currencies

from liveloop.kit import clock
from liveloop.kit.errors import Invalid, NotFound
from liveloop.markets.api import read_calendar
from liveloop.markets.calendar import calendar
from liveloop.markets.catalogue import CatalogueError, get_market, load_catalogue, parse_catalogue
from liveloop.markets.schedule import suggest

REGIONS = {
    "SEA": {"ID", "PH", "TH", "VN", "MY", "SG"},
    "MENA": {"SA", "AE", "EG"},
    "EU": {"DE", "FR", "ES", "IT", "NL"},
    "UK": {"GB"},
    "NA": {"US", "CA"},
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def raw_catalogue() -> dict:
    text = resources.files("liveloop.markets").joinpath("catalogue.json").read_text("utf-8")
    return json.loads(text)


# --- catalogue -----------------------------------------------------------------------------------


def test_catalogue_lists_every_market_of_the_spec_in_its_region():
    catalogue = load_catalogue()
    for region, codes in REGIONS.items():
        for code in codes:
            assert catalogue[code].region == region


@pytest.mark.parametrize("code", list(load_catalogue()))
def test_every_market_has_real_currency_zones_locales_and_a_holiday_calendar(code):
    market = load_catalogue()[code]
    assert market.currency in list_currencies()
    for zone in market.timezones:
        ZoneInfo(zone)
    assert market.timezone in market.timezones
    assert market.default_locale in market.locales
    assert market.prime_time
    assert market.policy.sources
    assert code in holidays.list_supported_countries()
    json.dumps(market.to_dict())  # the API returns it as JSON


def test_us_and_ca_list_several_zones_with_a_primary():
    assert get_market("US").timezone == "America/New_York"
    assert "America/Los_Angeles" in get_market("US").timezones
    assert get_market("CA").timezone == "America/Toronto"
    assert "America/Vancouver" in get_market("CA").timezones


@pytest.mark.parametrize("code", sorted(set().union(*REGIONS.values())))
def test_policy_follows_spec_section_6(code):
    policy = get_market(code).policy
    privacy_first = code in REGIONS["EU"] | REGIONS["UK"] | REGIONS["NA"]
    assert policy.draw_permit_required == (code in {"VN", "ID", "PH", "TH", "SA", "AE", "EG", "IT", "US"})
    assert (policy.draw_permit_above is not None) == (code == "US")
    assert policy.promo_permit_required == (code == "PH")
    assert policy.purchase_linked_draw_forbidden == (code in {"MY", "SA"})
    assert policy.free_entry_required == privacy_first
    assert policy.sharing_may_be_required == (not privacy_first)
    assert policy.leaderboard_mask_names_without_consent == privacy_first
    assert policy.rtl == (code in REGIONS["MENA"])
    assert (policy.promo_value_limit is not None) == (code == "VN")
    assert (policy.draw_period_max_days is not None) == (code == "SA")
    assert (policy.draw_conditions is not None) == (code in {"SG", "CA"})
    bases = {rule.code: rule.basis for rule in policy.rules()}
    if privacy_first:
        law = "law" if code in REGIONS["NA"] else "default"
        assert (bases["policy.free_entry_required"], bases["policy.sharing_required"],
                bases["policy.leaderboard_masking"]) == (law, "default", "default")
    else:
        assert set(bases.values()) == {"law"}


def test_vietnam_caps_a_discount_at_half_the_price():
    limit = get_market("VN").to_dict()["policy"]["promo_value_limit"]
    assert (limit["percent"], limit["programme_percent"]) == (50, 100)
    assert limit["source"].startswith("VN Decree 81/2018/ND-CP Art. 7(2)")


def test_the_us_permit_threshold_is_5000_dollars():
    assert get_market("US").to_dict()["policy"]["draw_permit_above"] == {"amount": "5000", "currency": "USD"}


def test_docs_markets_lists_every_rule_of_every_market_with_its_basis_and_source():
    doc = (Path(__file__).parents[2] / "docs" / "markets.md").read_text(encoding="utf-8")
    assert "2026-12" in doc and "This is not legal advice." in doc
    sections = doc.split("\n### ")
    for code, market in load_catalogue().items():
        [section] = [s for s in sections if s.startswith(f"{code}: {market.name} (region {market.region})")]
        rows = [line for line in section.splitlines() if line.startswith("| `policy.")]
        assert len(rows) == len(market.policy.rules()), code
        for rule, row in zip(market.policy.rules(), rows, strict=True):
            assert row.startswith(f"| `{rule.code}` | {rule.basis} |") and row.endswith(f"| {rule.source} |"), row


def test_mena_markets_have_a_late_night_ramadan_window():
    for code in REGIONS["MENA"]:
        [window] = get_market(code).to_dict()["ramadan_prime_time"]
        assert window == {"from": "21:00", "to": "02:00"}
    assert get_market("DE").ramadan_prime_time == ()


def test_get_market_is_case_insensitive_and_unknown_codes_are_not_found():
    assert get_market(" sa ").code == "SA"
    with pytest.raises(NotFound, match="unknown market XX"):
        get_market("XX")


def test_the_shipped_catalogue_parses():
    assert set(parse_catalogue(raw_catalogue())) == set(load_catalogue())


def _break(path: list, value):
    def mutate(raw: dict) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_break(["markets", 0, "currency"], "ABC"), "currency"),
        (_break(["markets", 0, "timezone"], "Asia/Atlantis"), "primary timezone"),
        (_break(["markets", 0, "timezones", 1], "Asia/Atlantis"), "time zone"),
        (_break(["markets", 0, "locales"], ["id", "xx-YY"]), "locale"),
        (_break(["markets", 0, "default_locale"], "th"), "default_locale"),
        (_break(["markets", 0, "policy", "rtl"], True), "rtl"),
        (_break(["markets", 0, "policy", "sources"], []), "sources"),
        (_break(["markets", 0, "policy", "draw_permit_required"], "yes"), "true or false"),
        (_break(["markets", 0, "prime_time"], [{"from": "19:00", "to": "19:00"}]), "empty"),
        (_break(["markets", 0, "prime_time"], [{"from": "7pm", "to": "23:00"}]), "windows"),
        (_break(["markets", 0, "region"], "LATAM"), "region"),
        (_break(["markets", 0, "colour"], "red"), "unknown keys"),
        (_break(["markets", 1, "code"], "ID"), "twice"),
        (_break(["profiles", "SEA", "peaks", 0, "islamic"], "eid_al_fitr"), "give month and day"),
        (_break(["profiles", "EU", "peaks", 0, "nth"], 5), "nth"),
        (_break(["profiles", "EU", "peaks", 0, "kind"], "fun"), "kind"),
    ],
)
def test_catalogue_validation_names_the_broken_market(mutate, message):
    raw = copy.deepcopy(raw_catalogue())
    mutate(raw)
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(raw)


# --- calendar ------------------------------------------------------------------------------------


def names_on(code: str, day: date) -> list[str]:
    return [d["name"] for d in calendar(code, day, day)]


@pytest.mark.parametrize("code", sorted(REGIONS["MENA"]))
def test_mena_calendars_hold_ramadan_and_both_eids_of_2027(code):
    days = calendar(code, date(2027, 1, 1), date(2027, 12, 31))
    names = " | ".join(d["name"] for d in days)
    assert "Eid al-Fitr" in names
    assert "Eid al-Adha" in names
    [ramadan] = [d for d in days if d["name"].startswith("Ramadan begins")]
    assert ramadan["date"] == "2027-02-08"
    assert ramadan["kind"] == "religious"


def test_saudi_eid_al_fitr_2027_is_listed_once_per_day():
    assert names_on("SA", date(2027, 3, 9)) == ["Eid al-Fitr Holiday"]


def test_german_christmas_thai_songkran_and_vietnamese_tet():
    assert "Christmas Day" in names_on("DE", date(2027, 12, 25))
    assert "Songkran Festival" in names_on("TH", date(2027, 4, 13))
    assert "Tet (Lunar New Year)" in names_on("VN", date(2027, 2, 6))
    assert "Chinese New Year" in names_on("SG", date(2027, 2, 6))
    assert "Lunar New Year" in names_on("ID", date(2027, 2, 6))


def test_commercial_peaks_per_region():
    assert {"date": "2027-11-26", "name": "Black Friday", "kind": "commercial"} in calendar(
        "US", date(2027, 11, 1), date(2027, 11, 30)
    )
    assert "Cyber Monday" in names_on("GB", date(2027, 11, 29))
    for code in REGIONS["SEA"]:
        assert "11.11 Singles' Day Sale" in names_on(code, date(2027, 11, 11))
        assert "12.12 Sale" in names_on(code, date(2027, 12, 12))
        assert "9.9 Sale" in names_on(code, date(2027, 9, 9))
    assert names_on("DE", date(2027, 11, 11)) == []


def test_calendar_spans_a_new_year_in_date_order():
    days = calendar("de", date(2027, 12, 20), date(2028, 1, 5))
    assert [d["date"] for d in days] == ["2027-12-25", "2027-12-26", "2028-01-01"]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2027, 1, 1), date(2028, 1, 3), "to"),  # 367 days
        (date(2027, 2, 1), date(2027, 1, 31), "to"),
        (date(1999, 12, 1), date(1999, 12, 31), "from"),
        (date(2100, 12, 31), date(2101, 1, 2), "to"),
        (date(2101, 1, 1), date(2101, 1, 2), "from"),
    ],
)
def test_calendar_range_validation(start, end, field):
    with pytest.raises(Invalid) as caught:
        calendar("DE", start, end)
    assert caught.value.field == field


def test_calendar_accepts_366_days_and_refuses_unknown_markets():
    assert calendar("DE", date(2028, 1, 1), date(2028, 12, 31))
    with pytest.raises(NotFound):
        calendar("ZZ", date(2027, 1, 1), date(2027, 1, 2))


def test_the_default_calendar_starts_on_the_markets_own_day(monkeypatch):
    # 20:00Z on 24 Dec is already 25 Dec in Jakarta. The route is called as a function: a server
    # process's clock cannot be set (tests/e2e/test_markets_api.py has it over HTTP).
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 12, 24, 20, tzinfo=UTC))
    body = read_calendar("ID", from_=None, to=None)
    assert (body["from"], body["to"]) == ("2027-12-25", "2028-01-24")
    assert body["days"][0] == {"date": "2027-12-25", "name": "Christmas Day", "kind": "public"}


# As if the holidays library had no Islamic calendar helpers (a private API of its country classes)
# any more. In a process of its own, so that no date is already cached from the library's helpers.
_WITHOUT_ISLAMIC_CALENDAR = """
import json, sys
from datetime import date
import holidays

real = holidays.country_holidays
def without_helpers(*args, **kwargs):
    table = real(*args, **kwargs)
    vars(table).pop("_islamic_calendar", None)
    return table
holidays.country_holidays = without_helpers

from liveloop.markets.calendar import calendar, ramadan_days
days = calendar("SA", date(2027, 1, 1), date(2027, 12, 31))
last = max(ramadan_days("SA", date(2027, 1, 1), date(2027, 12, 31)))
json.dump({"days": days, "last": last.isoformat()}, sys.stdout)
"""


def test_ramadan_start_is_approximated_from_eid_without_the_islamic_calendar():
    done = subprocess.run([sys.executable, "-c", _WITHOUT_ISLAMIC_CALENDAR], capture_output=True, text=True,
                          timeout=120, check=True)
    result = json.loads(done.stdout)
    assert {"date": "2027-02-07", "name": "Ramadan begins (approximate)", "kind": "religious"} in result["days"]
    assert result["last"] == "2027-03-08"


# --- schedule ------------------------------------------------------------------------------------


def test_indonesian_prime_time_is_19_to_23_wib_and_one_evening_is_one_choice():
    [evening] = suggest(["ID"], 60, utc(2027, 3, 1), utc(2027, 3, 2), limit=8)
    # Any start from 19:00 to 22:00 WIB holds the hour in prime time: one choice, not seven.
    assert (evening["start"], evening["latest_start"]) == ("2027-03-01T12:00:00Z", "2027-03-01T15:00:00Z")
    assert evening["prime_time_coverage"] == {"ID": 1.0} and evening["score"] == 1.0
    assert evening["local"] == {"ID": "2027-03-01T19:00:00+07:00"}
    assert evening["end"] == "2027-03-01T13:00:00Z"


def test_suggestions_are_other_days_or_other_parts_of_the_day():
    week = suggest(["ID", "DE"], 60, utc(2027, 3, 1), utc(2027, 3, 8), limit=14)
    assert [(s["start"], s["prime_time_coverage"]) for s in week] == [
        (f"2027-03-0{d}T{h}:00:00Z", {"ID": 1.0, "DE": 0.0} if h == "12" else {"ID": 0.0, "DE": 1.0})
        for d in range(1, 8) for h in ("12", "18")
    ]


def test_candidates_start_on_the_half_hour_within_the_range():
    [only] = suggest(["ID"], 60, utc(2027, 3, 1, 12, 10), utc(2027, 3, 1, 13, 40))
    assert only["start"] == "2027-03-01T12:30:00Z"


def test_us_prime_time_follows_the_clock_change_of_14_march_2027():
    result = suggest(["US"], 180, utc(2027, 3, 13, 12), utc(2027, 3, 15, 6), limit=3)
    assert [(s["start"], s["local"]["US"], s["score"]) for s in result[:2]] == [
        ("2027-03-14T00:00:00Z", "2027-03-13T19:00:00-05:00", 1.0),  # EST
        ("2027-03-14T23:00:00Z", "2027-03-14T19:00:00-04:00", 1.0),  # EDT: an hour earlier in UTC
    ]
    assert len(result) == 2  # the rest of the range is the same evenings started earlier or later


def test_us_and_germany_in_the_week_between_their_autumn_clock_changes():
    # DE leaves summer time on 31 Oct 2027, the US on 7 Nov. In between, Berlin's 19-22 CET is
    # 18-21Z and New York's 19-22 EDT is 23-02Z, so an 8 h live from 18:00Z holds both prime times
    # (3 h of 8 each). Before and after, the gap is 3 h and no 8 h live holds both.
    result = suggest(["US", "DE"], 480, utc(2027, 10, 28), utc(2027, 11, 10), limit=8)
    assert [s["start"] for s in result[:7]] == [
        f"2027-{d}T18:00:00Z" for d in ("10-31", "11-01", "11-02", "11-03", "11-04", "11-05", "11-06")
    ]
    assert all(s["prime_time_coverage"] == {"US": 0.375, "DE": 0.375} for s in result[:7])
    assert result[0]["local"] == {"US": "2027-10-31T14:00:00-04:00", "DE": "2027-10-31T19:00:00+01:00"}
    assert result[7]["score"] < 0.375


def test_us_and_germany_in_the_two_weeks_between_their_spring_clock_changes():
    # The US springs forward on 14 March 2027, DE on 28 March: from the US evening of 14 March to
    # the DE evening of 27 March the two prime times are 2 h apart.
    result = suggest(["US", "DE"], 480, utc(2027, 3, 10), utc(2027, 3, 31), limit=20)
    full = [s["start"] for s in result if s["score"] == 0.375]
    assert full == [f"2027-03-{d:02d}T18:00:00Z" for d in range(14, 28)]


def test_saudi_ramadan_nights_run_to_two_in_the_morning():
    in_ramadan = suggest(["SA"], 300, utc(2027, 2, 15), utc(2027, 2, 16), limit=1)
    assert in_ramadan[0]["start"] == "2027-02-15T18:00:00Z"
    assert in_ramadan[0]["local"]["SA"] == "2027-02-15T21:00:00+03:00"
    assert in_ramadan[0]["score"] == 1.0
    after = suggest(["SA"], 300, utc(2027, 4, 15), utc(2027, 4, 16), limit=1)
    assert after[0]["start"] == "2027-04-15T16:00:00Z"  # 21:00-00:00 AST holds 3 h of 5
    assert after[0]["score"] == 0.6


def test_holidays_touched_are_listed_without_a_penalty():
    [best] = suggest(["ID", "DE"], 60, utc(2027, 3, 10), utc(2027, 3, 11), limit=1)
    assert best["start"] == "2027-03-10T12:00:00Z"
    assert best["prime_time_coverage"] == {"ID": 1.0, "DE": 0.0}
    assert best["holidays"] == [
        {"market": "ID", "date": "2027-03-10", "name": "Eid al-Fitr (estimated)", "kind": "public"}
    ]


def test_a_live_across_local_midnight_lists_both_dates():
    # 23:00-01:00 WIB on 16-17 Aug 2027; Independence Day is the 17th.
    [best] = suggest(["ID"], 120, utc(2027, 8, 16, 16), utc(2027, 8, 16, 18))
    assert [h["date"] for h in best["holidays"]] == ["2027-08-17"]


def test_offsets_other_than_utc_are_accepted_and_markets_deduplicated():
    wib = timezone(timedelta(hours=7))
    result = suggest(["id", "ID"], 60, datetime(2027, 3, 1, 19, tzinfo=wib), datetime(2027, 3, 1, 20, tzinfo=wib))
    assert [(s["start"], list(s["local"])) for s in result] == [("2027-03-01T12:00:00Z", ["ID"])]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"markets": []}, "markets"),
        ({"markets": "ID"}, "markets"),
        ({"markets": ["XX"]}, "markets"),
        ({"markets": sorted(load_catalogue())[:11]}, "markets"),
        ({"duration_minutes": 14}, "duration_minutes"),
        ({"duration_minutes": 601}, "duration_minutes"),
        ({"duration_minutes": True}, "duration_minutes"),
        ({"start": datetime(2027, 3, 1)}, "from"),
        ({"end": datetime(2027, 3, 2)}, "to"),
        ({"end": utc(2027, 2, 28)}, "to"),
        ({"end": utc(2027, 4, 2)}, "to"),  # 32 days
        ({"end": utc(2027, 3, 1, 0, 45)}, "to"),  # shorter than the live
        ({"start": utc(1999, 12, 31)}, "from"),
        ({"limit": 0}, "limit"),
    ],
)
def test_suggest_validation(kwargs, field):
    args = {"markets": ["ID"], "duration_minutes": 60, "start": utc(2027, 3, 1), "end": utc(2027, 3, 2)}
    with pytest.raises(Invalid) as caught:
        suggest(**{**args, **kwargs})
    assert caught.value.field == field


def test_a_full_month_for_ten_markets_is_accepted():
    result = suggest(sorted(load_catalogue())[:10], 600, utc(2027, 3, 1), utc(2027, 4, 1))
    assert len(result) == 10
    assert result == sorted(result, key=lambda s: -s["score"])
