"""Viewer-facing words over the real server: stream messages carry their `text`, the widget its catalogues."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from liveloop import i18n
from liveloop.i18n.widget import WIDGET_MESSAGES, widget_texts
from tests.e2e.helpers import invite, iso
from tests.e2e.test_realtime import Sse, reserve, viewer_token


def create_campaign(client: httpx.Client, cid: str, market: str, amount: str) -> None:
    starts = datetime.now(UTC) + timedelta(hours=1)
    rule = {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": amount}}
    body = {
        "id": cid, "title": "T", "market": market, "starts_at": iso(starts),
        "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live",
        "leaderboard": {"metric": "reservations"}, "rules": [rule],
    }
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text


def put_user(client: httpx.Client, user_id: str, **body) -> None:
    response = client.put(f"/v1/users/{user_id}", json=body)
    assert response.status_code in (200, 201), response.text


def test_an_arabic_viewer_reads_arabic_and_the_others_the_markets_language(client, server, cid):
    create_campaign(client, cid, "ID", "25000")
    put_user(client, f"{cid}-layla", market="SA", locale="ar-SA")
    put_user(client, f"{cid}-fina", market="ID", display_name="Fina")
    layla_code, bob_code = invite(client, cid, f"{cid}-layla"), invite(client, cid, f"{cid}-bob")
    with Sse(server, viewer_token(client, cid, f"{cid}-layla")) as layla, \
            Sse(server, viewer_token(client, cid, f"{cid}-bob")) as bob:
        reserve(client, cid, f"{cid}-fina", layla_code)
        friend, reward, rank = layla.take(3)
        assert friend["text"] == "حجز Fina مقعدًا عبر دعوتك"
        assert reward["text"] == "حصلت على قسيمة بقيمة \u200f25,000\xa0IDR"
        assert rank["text"] == "أنت الآن في المركز 1 في لوحة المتصدرين"

        # Bob has no locale of his own: he reads the campaign market's (Indonesia's) language.
        reserve(client, cid, f"{cid}-gus", bob_code)
        friend, reward, rank = bob.take(3)
        assert friend["text"] == "Seorang teman memesan tempat lewat undanganmu"
        assert reward["text"] == "Kamu mendapatkan kupon senilai Rp25.000"
        assert rank["rank"] == 2 and rank["text"] == "Kamu sekarang berada di posisi 2 papan peringkat"  # after Layla


def test_a_german_viewers_reward_is_written_with_german_money(client, server, cid):
    # In a German campaign, by the market's default locale.
    create_campaign(client, cid, "DE", "2.50")
    code = invite(client, cid, f"{cid}-klaus")
    with Sse(server, viewer_token(client, cid, f"{cid}-klaus")) as klaus:
        reserve(client, cid, f"{cid}-f1", code)
        reward = next(m for m in klaus.take(3) if m["type"] == "reward")
        assert reward["text"] == "Du hast einen Gutschein über 2,50\xa0€ erhalten"

    # In an American campaign, by the viewer's own locale: dollars, written the German way.
    us = cid + "-us"
    create_campaign(client, us, "US", "2.50")
    put_user(client, f"{cid}-greta", market="US", locale="de-DE")
    code = invite(client, us, f"{cid}-greta")
    with Sse(server, viewer_token(client, us, f"{cid}-greta")) as greta:
        reserve(client, us, f"{cid}-f2", code)
        reward = next(m for m in greta.take(3) if m["type"] == "reward")
        assert reward["text"] == "Du hast einen Gutschein über 2,50\xa0$ erhalten"


def test_a_new_stream_reads_a_changed_locale(client, server, cid):
    create_campaign(client, cid, "ID", "25000")
    viewer = f"{cid}-vo"
    code = invite(client, cid, viewer)
    put_user(client, f"{cid}-f1", market="ID", display_name="F1")
    put_user(client, f"{cid}-f2", market="ID", display_name="F2")
    token = viewer_token(client, cid, viewer)
    with Sse(server, token) as first:
        reserve(client, cid, f"{cid}-f1", code)
        assert first.take(3)[0]["text"] == "F1 memesan tempat lewat undanganmu"
    put_user(client, viewer, locale="vi")
    with Sse(server, token) as second:
        reserve(client, cid, f"{cid}-f2", code)
        assert second.take(3)[0]["text"] == "F2 đã đặt chỗ qua lời mời của bạn"


def test_the_served_widget_has_every_text_in_every_language(server):
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        response = browser.get("/widget/liveloop.js")
        assert response.status_code == 200
        script = response.text
        assert "liveloop:i18n" not in script
        start = script.index("var I18N = ") + len("var I18N = ")
        table, _end = json.JSONDecoder().raw_decode(script, start)
        assert table == widget_texts()
        for lang in i18n.LANGS:
            assert set(table["strings"][lang]) == set(WIDGET_MESSAGES), lang
            assert all(text and text not in WIDGET_MESSAGES for text in table["strings"][lang].values()), lang
        again = browser.get("/widget/liveloop.js", headers={"if-none-match": response.headers["etag"]})
        assert again.status_code == 304
