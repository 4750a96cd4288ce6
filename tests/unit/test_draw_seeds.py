"""Draw periods and committed seeds, including days when the clocks change."""

from __future__ import annotations

import hashlib
import hmac

from liveloop.draws.periods import periods, seed, seed_hash
from liveloop.kit.times import iso, parse_iso

NY = "America/New_York"


def ms(text: str) -> int:
    return parse_iso(text, field="t")


def names(kind: str, start: str, end: str, tz: str) -> list[str]:
    return [p.name for p in periods(kind, ms(start), ms(end), tz)]


def test_seed_is_the_documented_hmac_and_its_hash_is_sha256_of_its_text():
    s = seed("k", tenant_id="tn", campaign_id="c", rule_id="d", period="2027-03-01T21")
    assert s == hmac.new(b"k", b"draw-seed|tn|c|d|2027-03-01T21", hashlib.sha256).hexdigest()
    assert seed_hash(s) == hashlib.sha256(s.encode("utf-8")).hexdigest()
    assert seed_hash(s) != s


def test_seeds_differ_by_period_rule_campaign_tenant_and_secret():
    base = {"tenant_id": "tn", "campaign_id": "c", "rule_id": "d", "period": "campaign"}
    seen = {seed("k", **base)}
    for field, other in (("tenant_id", "tn2"), ("campaign_id", "c2"), ("rule_id", "d2"), ("period", "2027-03-01T21")):
        seen.add(seed("k", **{**base, field: other}))
    seen.add(seed("k2", **base))
    assert len(seen) == 6
    assert seed("k", **base) == seed("k", **base)  # every process derives the same seed


def test_campaign_period_is_the_whole_window():
    (period,) = periods("campaign", ms("2027-03-01T12:00:00Z"), ms("2027-03-01T15:00:00Z"), "Asia/Jakarta")
    assert (period.name, iso(period.starts_at), iso(period.ends_at)) == (
        "campaign", "2027-03-01T12:00:00.000Z", "2027-03-01T15:00:00.000Z")


def test_hours_are_named_by_local_start_hour_and_clipped_to_the_window():
    got = periods("hour", ms("2027-03-01T13:30:00Z"), ms("2027-03-01T15:10:00Z"), "Asia/Jakarta")  # UTC+7
    assert [p.name for p in got] == ["2027-03-01T20", "2027-03-01T21", "2027-03-01T22"]
    assert [iso(p.starts_at) for p in got] == [
        "2027-03-01T13:30:00.000Z", "2027-03-01T14:00:00.000Z", "2027-03-01T15:00:00.000Z"]
    assert iso(got[-1].ends_at) == "2027-03-01T15:10:00.000Z"


def test_local_hours_cross_midnight_into_the_next_local_day():
    assert names("hour", "2027-03-01T15:00:00Z", "2027-03-01T18:00:00Z", "Asia/Tokyo") == [
        "2027-03-02T00", "2027-03-02T01", "2027-03-02T02"]


def test_half_hour_offsets_start_hours_on_the_half_hour_utc():
    got = periods("hour", ms("2027-03-01T14:00:00Z"), ms("2027-03-01T16:00:00Z"), "Asia/Kolkata")  # UTC+5:30
    assert [p.name for p in got] == ["2027-03-01T19", "2027-03-01T20", "2027-03-01T21"]
    assert [iso(p.starts_at) for p in got][1] == "2027-03-01T14:30:00.000Z"


def test_spring_forward_skips_the_missing_hour():
    # 2027-03-14 in New York: 02:00 EST jumps to 03:00 EDT.
    got = periods("hour", ms("2027-03-14T05:00:00Z"), ms("2027-03-14T09:00:00Z"), NY)
    assert [p.name for p in got] == ["2027-03-14T00", "2027-03-14T01", "2027-03-14T03", "2027-03-14T04"]
    assert all(p.ends_at - p.starts_at == 3_600_000 for p in got)


def test_fall_back_gives_the_repeated_hour_two_distinct_periods():
    # 2027-11-07 in New York: 02:00 EDT falls back to 01:00 EST, so 01:00-02:00 happens twice.
    got = periods("hour", ms("2027-11-07T04:00:00Z"), ms("2027-11-07T08:00:00Z"), NY)
    assert [p.name for p in got] == ["2027-11-07T00", "2027-11-07T01", "2027-11-07T01-05:00", "2027-11-07T02"]
    assert [iso(p.starts_at) for p in got] == [
        "2027-11-07T04:00:00.000Z", "2027-11-07T05:00:00.000Z", "2027-11-07T06:00:00.000Z",
        "2027-11-07T07:00:00.000Z"]
    assert all(p.ends_at - p.starts_at == 3_600_000 for p in got)
    # Distinct names mean distinct seeds: each repeated hour has its own commitment.
    hashes = {seed_hash(seed("k", tenant_id="t", campaign_id="c", rule_id="d", period=p.name)) for p in got}
    assert len(hashes) == 4


def test_names_do_not_depend_on_where_the_window_starts():
    whole = periods("hour", ms("2027-11-07T04:00:00Z"), ms("2027-11-07T08:00:00Z"), NY)
    late = periods("hour", ms("2027-11-07T06:20:00Z"), ms("2027-11-07T08:00:00Z"), NY)
    assert [p.name for p in late] == [p.name for p in whole][2:]


def test_status_follows_the_clock():
    (period,) = periods("campaign", 1000, 2000, "UTC")
    assert [period.status(t) for t in (999, 1000, 1999, 2000)] == ["scheduled", "open", "open", "closed"]
