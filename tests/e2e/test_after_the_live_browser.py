"""The sharer's results page (`/t/{token}`) in a real headless Chromium, in English and in Arabic.

What a sharer sees: their thank-you, figures, rewards, the friends they brought (named only with
consent), the clips to share (the button hands over their own clip link) and the next live. The page
runs under its Content-Security-Policy: the test fails on any violation or script error. Screenshots
are written to var/screenshots/ (docs/after-the-live.md shows them).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.helpers import invite, iso, post_ok, send
from tests.e2e.test_widget_browser import chromium  # noqa: F401 - the browser fixture

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = pytest.mark.browser


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def a_live_with_a_sharer(client, cid: str, sharer: str, market: str, locale: str, amount: str) -> None:
    """A live that ended an hour ago: the sharer's link brought two friends (one named in public), one
    of whom ordered; a badge for the first friend at the live; a clip; and a next live."""
    starts = now() - timedelta(hours=3)
    post_ok(client, "/v1/campaigns", {
        "id": cid, "title": "Spring <sale> live", "market": market, "starts_at": iso(starts),
        "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live",
        "leaderboard": {"metric": "joins"},
        "rules": [{"id": "first", "type": "milestone", "metric": "joins",
                   "tiers": [{"at": 1, "reward": {"kind": "badge", "name": "Super sharer"}}]}]})
    for uid, body in ((sharer, {"locale": locale, "display_name": "Alex"}),
                      (f"{cid}-fina", {"display_name": "Fina", "consents": {"leaderboard_public": True}}),
                      (f"{cid}-gus", {"display_name": "Gus Private"})):
        assert client.put(f"/v1/users/{uid}", json={"market": market, **body}).status_code in (200, 201)
    code = invite(client, cid, sharer)

    def ev(eid: str, kind: str, user: str, at: datetime, **extra) -> dict:
        return {"id": f"{cid}/{eid}", "type": kind, "campaign_id": cid, "user_id": user, "at": iso(at), **extra}

    send(client, [
        ev("f1", "click", f"{cid}-fina", starts - timedelta(hours=1), ref=code),
        ev("f2", "room_join", f"{cid}-fina", starts + timedelta(minutes=5)),
        ev("f3", "order_paid", f"{cid}-fina", starts + timedelta(minutes=30),
           order={"id": f"{cid}-o", "amount": amount, "currency": "USD" if market == "US" else "AED"}),
        ev("g1", "click", f"{cid}-gus", starts - timedelta(hours=1), ref=code),
        ev("g2", "room_join", f"{cid}-gus", starts + timedelta(minutes=9)),
    ])
    post_ok(client, f"/v1/campaigns/{cid}/clips", {"id": "best", "title": "The best <moments>",
                                                   "url": "https://shop.example.com/replays/best",
                                                   "thumbnail_url": "https://img.example.invalid/best.jpg"})
    nxt = now() + timedelta(days=2)
    post_ok(client, "/v1/campaigns", {
        "id": f"{cid}-next", "title": "Summer live", "market": market, "starts_at": iso(nxt),
        "ends_at": iso(nxt + timedelta(hours=1)), "landing_url": "https://shop.example.com/summer",
        "follow_up_of": [cid]})


def open_page(chromium, server, url: str, locale: str):  # noqa: F811 - the fixture, passed on
    context = chromium.new_context(locale=locale, viewport={"width": 430, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "img.example.invalid" not in
            m.text and "ERR_NAME_NOT_RESOLVED" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(url)
    return context, page, response, problems


@pytest.mark.parametrize(("market", "locale", "amount", "direction", "heading", "copied", "friend"), [
    pytest.param("US", "en-US", "80.00", "ltr", "What your sharing achieved", "Link copied", "A friend", id="en"),
    pytest.param("AE", "ar-AE", "300.00", "rtl", "ما حققته مشاركتك", "تم نسخ الرابط", "صديق", id="ar"),
])
def test_the_sharers_page_in_a_browser(server, client, chromium, market, locale, amount, direction, heading,  # noqa: F811
                                       copied, friend):
    from playwright.sync_api import expect

    cid = f"page-{locale[:2]}-{uuid.uuid4().hex[:6]}"
    sharer = f"{cid}-alex"
    a_live_with_a_sharer(client, cid, sharer, market, locale, amount)
    report = client.get(f"/v1/campaigns/{cid}/sharers/{sharer}/report").json()
    context, page, response, problems = open_page(chromium, server, report["page_url"], locale)
    try:
        assert response.status == 200
        assert response.headers["referrer-policy"] == "no-referrer"
        html = page.locator("html")
        expect(html).to_have_attribute("dir", direction)
        assert page.evaluate("getComputedStyle(document.body).direction") == direction
        expect(page.locator("h1")).to_have_text(heading)
        expect(page.locator(".thanks")).to_have_text(report["message"]["body"])
        expect(page.locator(".campaign")).to_have_text("Spring <sale> live")  # shown as text, not markup
        assert page.locator("sale").count() == 0

        # The figures, the badge, and the friends: Fina by name, Gus (no consent) as "a friend".
        expect(page.locator(".stats dd")).to_have_count(5)
        expect(page.locator(".rewards li")).to_have_count(1)
        expect(page.locator(".rewards li")).to_contain_text("Super sharer")
        friends = page.locator(".friend")
        expect(friends).to_have_count(2)
        expect(friends.nth(0)).to_contain_text("Fina")
        expect(friends.nth(1)).to_contain_text(friend)
        assert "Gus Private" not in page.content()

        # The clip's button hands over the sharer's own clip link.
        clip = page.locator(".clip")
        expect(clip.locator("a")).to_have_text("The best <moments>")
        expect(clip.locator("img")).to_have_count(0)  # its thumbnail does not load here: taken away, not broken
        link = clip.locator("a").get_attribute("href")
        assert link.startswith(f"{server.url}/s/")
        assert page.evaluate("typeof navigator.share") == "undefined"  # headless Linux: the clipboard path
        clip.locator("button").click()
        expect(clip.locator("button")).to_have_text(copied)
        assert page.evaluate("navigator.clipboard.readText()") == link
        code = link.rsplit("/", 1)[1]
        again = post_ok(client, f"/v1/campaigns/{cid}/clips/best/invites", {"user_id": sharer})
        assert again["code"] == code  # the link the page made is the sharer's clip link

        # The next live: reserve, or hand over an invite to it.
        nxt = page.locator(".next")
        expect(nxt).to_contain_text("Summer live")
        assert nxt.locator("a").get_attribute("href") == "https://shop.example.com/summer"
        next_code = invite(client, f"{cid}-next", sharer)
        assert nxt.locator("button").get_attribute("data-url") == f"{server.url}/s/{next_code}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"after-the-live-{locale[:2]}.png"), full_page=True)
        assert problems == []
    finally:
        context.close()


def test_a_forged_link_shows_the_not_found_page(server, chromium):  # noqa: F811
    context, page, response, problems = open_page(chromium, server, f"{server.url}/t/forged.token", "de-DE")
    try:
        assert response.status == 404
        assert page.locator("h1").text_content() == "Diese Seite gibt es nicht oder sie ist abgelaufen"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "after-the-live-404.png"))
        assert problems == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]
    finally:
        context.close()
