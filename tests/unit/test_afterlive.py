"""After the live, without a database: reminder times out of the night, the thank-you in every language,
page tokens, the results page's escaping and direction, and follow-up lives in the pipeline."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from liveloop.afterlive import page, plan, texts
from liveloop.afterlive.reminders import due_at, market_zones, quiet, reminder_times
from liveloop.afterlive.tokens import PAGE_DAYS, page_token, read_page_token
from liveloop.events.committed import CommittedEffects
from liveloop.events.gate import LocalGate
from liveloop.events.ingest import Ingestor
from liveloop.i18n import LANGS
from liveloop.kit.errors import Unauthorized
from liveloop.kit.times import DAY_MS, iso, to_ms
from liveloop.realtime.tokens import sign
from tests.fakes import FakeDatabase, FakeEventStore, FakeRates

SECRET = "k" * 64
NOW = 1_900_000_000_000  # 2030-03-17


def at(zone: str, text: str) -> int:
    """Epoch ms of a local wall-clock time ("2030-03-01 07:00") in `zone`."""
    return to_ms(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)))


def local(ms: int, zone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# -- reminder times ------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "nominal", "sent"), [
    ("Asia/Jakarta", "2030-03-01 06:00", "2030-02-28 21:00"),  # early morning: the evening before
    ("Asia/Jakarta", "2030-03-01 07:59", "2030-02-28 21:00"),
    ("Asia/Jakarta", "2030-03-01 08:00", "2030-03-01 08:00"),  # quiet hours end at 08:00
    ("Asia/Jakarta", "2030-03-01 21:59", "2030-03-01 21:59"),
    ("Asia/Jakarta", "2030-03-01 22:00", "2030-03-01 21:00"),  # and start at 22:00: 21:00 that evening
    ("Asia/Jakarta", "2030-03-01 23:30", "2030-03-01 21:00"),
    ("Asia/Jakarta", "2030-03-02 00:15", "2030-03-01 21:00"),
    ("Europe/Berlin", "2030-03-31 03:30", "2030-03-30 21:00"),  # the night clocks go forward
    ("America/New_York", "2030-11-03 01:30", "2030-11-02 21:00"),  # the night they go back
    ("Asia/Riyadh", "2030-03-01 14:00", "2030-03-01 14:00"),
])
def test_a_reminder_that_would_fall_in_the_night_is_sent_at_21_the_evening_before(zone, nominal, sent):
    due = due_at(at(zone, nominal), zone)
    assert local(due, zone) == sent
    assert due <= at(zone, nominal)
    assert not quiet(due, zone)


def test_quiet_hours_are_22_to_8_local():
    zone = "Asia/Bangkok"
    assert [quiet(at(zone, f"2030-03-01 {h:02d}:00"), zone) for h in range(24)] == [
        h >= 22 or h < 8 for h in range(24)]


def test_a_reminder_may_be_due_at_one_time_per_market_zone_and_at_its_nominal_time_last():
    starts = at("Asia/Jakarta", "2030-03-01 07:00")
    times = reminder_times(starts, 60)
    nominal = starts - 3_600_000
    assert times == sorted(set(times)) and times[-1] == nominal
    assert {due_at(nominal, zone) for zone in market_zones()} <= set(times)
    assert all(nominal - t <= 11 * 3_600_000 for t in times)  # at most from 21:00 to 08:00 earlier


def test_a_campaign_plans_its_end_its_sharer_reports_and_each_reminder():
    body = {"id": "c1", "starts_at": "2030-03-01T13:00:00Z", "ends_at": "2030-03-01T15:00:00Z",
            "report_delay_minutes": 45, "reminders": [{"before_minutes": 1440}, {"before_minutes": 60}]}
    jobs = {(j.kind, j.slot): j.run_at for j in plan.planned(body)}
    ends = to_ms(datetime(2030, 3, 1, 15, tzinfo=UTC))
    starts = ends - 2 * 3_600_000
    assert jobs == {("campaign.ended", ""): ends, ("sharer.report", ""): ends + 45 * 60_000,
                    ("reminder", "1440"): reminder_times(starts, 1440)[0],
                    ("reminder", "60"): reminder_times(starts, 60)[0]}
    del body["report_delay_minutes"]  # stored before the field existed: the default
    assert {(j.kind, j.run_at) for j in plan.planned(body)} >= {("sharer.report", ends + 30 * 60_000)}


# -- texts ---------------------------------------------------------------------------------------


METRICS = {"clicks": 12, "referees": 6, "reservations": 4, "joins": 5, "orders": 3, "gmv": 123_450}


def test_the_thank_you_of_the_spec_in_english():
    message = texts.thank_you("en", title="Spring live", metrics=METRICS, currency="USD", rank=2, rewards=1)
    assert message == {
        "locale": "en", "subject": "Your sharing for “Spring live”: the results",
        "body": "Thanks to you, 5 friends joined the live and placed 3 orders. Together they spent $1,234.50. "
                "You finished number 2 on the leaderboard. You earned 1 reward."}


@pytest.mark.parametrize(("metrics", "body"), [
    ({"joins": 1, "orders": 1}, "Thanks to you, 1 friend joined the live and placed 1 order."),
    ({"joins": 2, "orders": 0}, "Thanks to you, 2 friends joined the live."),
    ({"joins": 0, "orders": 4}, "Thanks to you, your friends placed 4 orders."),
    ({"joins": 0, "orders": 0, "clicks": 1}, "Thank you for sharing the live: your links were opened 1 time."),
])
def test_the_thank_you_says_what_happened_in_the_right_plural(metrics, body):
    values = {"clicks": 9, "reservations": 0, "gmv": 0, **metrics}
    assert texts.thank_you("en", title="T", metrics=values, currency="USD", rank=None, rewards=0)["body"] == body


@pytest.mark.parametrize(("tag", "expected"), [
    ("id-ID", ["Berkat kamu, 5 teman bergabung", "Rp1.234,50"]),
    ("de-DE", ["Dank dir sind 5 Freunde zum Live gekommen und haben 3 Bestellungen aufgegeben", "1.234,50"]),
    ("fr-FR", ["5 amis ont rejoint le live et passé 3 commandes", "1 234,50"]),
    ("ar-EG", ["بفضلك، انضم", "أصدقاء", "طلبات"]),
    ("zh", ["5 位好友进入了直播间", "。他们一共消费了"]),
    ("th", ["เพื่อน 5 คน", "3 รายการ"]),
])
def test_the_thank_you_is_written_and_formatted_for_the_readers_locale(tag, expected):
    message = texts.thank_you(tag, title="Spring", metrics=METRICS, currency="IDR" if tag == "id-ID" else "EUR",
                              rank=None, rewards=0)
    assert message["locale"] == tag
    for part in expected:
        assert part.replace("\u202f", " ") in message["body"].replace("\u202f", " ").replace("\xa0", " "), message


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_has_its_own_thank_you_and_reminder(lang):
    english = texts.thank_you("en", title="T", metrics=METRICS, currency="EUR", rank=1, rewards=2)
    own = texts.thank_you(lang, title="T", metrics=METRICS, currency="EUR", rank=1, rewards=2)
    if lang != "en":
        assert own["body"] != english["body"] and own["subject"] != english["subject"]
    reminder = texts.reminder(lang, title="T", starts_at=NOW, tz="Asia/Jakarta")
    assert "T" in reminder and "{" not in reminder


# -- page tokens -------------------------------------------------------------------------------


def test_a_page_token_opens_one_sharers_page_until_90_days_after_the_end():
    ends = NOW + DAY_MS
    token = page_token(SECRET, tenant_id="tn_a", campaign_id="c1", user_id="siti", ends_at=ends, now=NOW)
    grant = read_page_token(SECRET, token, now=ends + PAGE_DAYS * DAY_MS - 1)
    assert (grant.tenant_id, grant.campaign_id, grant.user_id) == ("tn_a", "c1", "siti")
    with pytest.raises(Unauthorized, match="expired"):
        read_page_token(SECRET, token, now=ends + PAGE_DAYS * DAY_MS)
    with pytest.raises(Unauthorized):
        read_page_token("other" * 10, token, now=NOW)
    body, _, mac = token.partition(".")
    with pytest.raises(Unauthorized):
        read_page_token(SECRET, body[:-2] + "xx." + mac, now=NOW)


def test_a_viewer_token_is_not_a_page_token():
    viewer, _ = sign(SECRET, tenant_id="tn_a", campaign_id="c1", user_id="siti", ttl_seconds=600, now=NOW)
    with pytest.raises(Unauthorized):
        read_page_token(SECRET, viewer, now=NOW)


# -- the page ----------------------------------------------------------------------------------


def report(tag: str, **extra) -> dict:
    message = texts.thank_you(tag, title="<b>Spring</b>", metrics=METRICS, currency="USD", rank=3, rewards=0)
    return {"user_id": "siti", "clicks": 12, "reservations": 4, "joins": 5, "orders": 3, "gmv": "1234.50",
            "rank": 3, "rewards": [], "message": message, "page_url": "https://x/t/y",
            "friends": [{"user_id": "f1", "display_name": "<img src=x onerror=alert(1)>", "joined": True,
                         "ordered": False},
                        {"user_id": "f2", "display_name": None, "joined": False, "ordered": False}], **extra}


CAMPAIGN = {"title": "<b>Spring</b>", "currency": "USD", "market": "US"}


def test_the_page_escapes_every_text_a_tenant_or_user_supplied():
    clip = page.Clip('"><script>alert(1)</script>', 'https://img.example.com/a.jpg?"onload="x', "https://l/s/abc")
    nxt = page.NextLive("<i>Next</i>", NOW, 'https://shop.example.com/"x', "https://l/s/def")
    html = page.results_page(report("en"), campaign=CAMPAIGN, tz="UTC", clips=[clip], next_live=nxt,
                             nonce="n0nce").decode()
    assert "<b>" not in html and "<img src=x" not in html and "<i>" not in html and "<script>alert" not in html
    assert "&lt;b&gt;Spring&lt;/b&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'onload="x' not in html and '"x"' not in html
    assert re.findall(r"<script[^>]*>", html) == ['<script nonce="n0nce">']  # the page's own, nothing else
    assert "A friend" in html and "came through your link" in html  # an unnamed friend, as the report has it


def test_the_arabic_page_reads_right_to_left():
    html = page.results_page(report("ar-SA"), campaign=CAMPAIGN, tz="Asia/Riyadh", clips=[], next_live=None,
                             nonce="n").decode()
    assert html.startswith('<!doctype html><html lang="ar" dir="rtl">')
    assert "ما حققته مشاركتك" in html and "<script" not in html  # nothing to share: no script at all


def test_the_not_found_page_speaks_the_visitors_language():
    assert 'lang="fr" dir="ltr"' in page.not_found_page("fr-CH, en;q=0.5", "n").decode()
    assert "انتهت صلاحيتها" in page.not_found_page("ar", "n").decode()


# -- follow-up lives in the pipeline -------------------------------------------------------------


T = "tenant-1"


def campaign(cid: str, starts: int, **extra) -> dict:
    return {"id": cid, "title": "Live", "market": "ID", "starts_at": iso(starts), "ends_at": iso(starts + 3_600_000),
            "landing_url": "https://shop.example.com/live", "leaderboard": {"metric": "reservations"}, **extra}


def test_a_follow_up_live_attributes_a_ref_of_the_earlier_campaign_to_its_owner_and_replays_alike():
    store = FakeEventStore()
    store.add_campaign(T, campaign("first", NOW - 10 * DAY_MS))
    store.add_campaign(T, campaign("next", NOW + DAY_MS, follow_up_of=["first"]))
    store.add_campaign(T, campaign("other", NOW + DAY_MS))
    db = FakeDatabase()
    gate = LocalGate(store, db)
    db.on_failure = gate.drop
    ingestor = Ingestor(gate, store, FakeRates(), CommittedEffects(), future_tolerance_ms=300_000)

    def reserve(eid: str, cid: str, user: str, ref: str):
        ev = {"id": eid, "type": "reservation", "campaign_id": cid, "user_id": user, "at": iso(NOW), "ref": ref}
        return asyncio.run(ingestor.ingest(T, [ev], now=NOW))

    # Both campaigns loaded before the code exists: the follow-up learns it when a ref carries it.
    reserve("warm", "next", "someone", "none-yet")
    reserve("warm2", "other", "someone", "none-yet")
    store.invites.add(T, "first", "siti-code", "siti")
    reserve("e1", "next", "budi", "siti-code")
    reserve("e2", "other", "ani", "siti-code")  # not a follow-up of "first": the code means nothing there
    live = asyncio.run(gate.get(T, "next"))
    assert live.state.participants["budi"].referrer == "siti"
    assert live.state.stats("siti").metrics()["reservations"] == 1
    assert asyncio.run(gate.get(T, "other")).state.participants["ani"].referrer is None

    _body, replayed = asyncio.run(store.load(T, "next"))
    assert replayed.participants["budi"].referrer == "siti"
    assert replayed.leaderboard.top(10) == live.state.leaderboard.top(10)
