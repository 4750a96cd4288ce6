"""The viewer widget in a real headless Chromium, embedded as README tells a merchant to.

A shop page served on its own localhost origin holds the one script tag; the widget then talks to the
liveloop server across origins (CORS), exactly as on a live page. What is checked is what a viewer
sees in the panel and what the server recorded from the widget's own requests.

The browser's side does not depend on the backend, but this runs on both because it is cheap: the
session's servers are running anyway and the tests take a few seconds a backend.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.e2e.helpers import invite, iso
from tests.e2e.test_realtime import viewer_token
from tests.support import free_port

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless (headless=True) and, in 1.65, most of these too; they are repeated so
# that a Playwright release dropping one cannot make Chromium hang on this closed network (no GPU,
# no QUIC, no first-run, update or sync traffic). Running as root needs --no-sandbox.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PUSH_SECONDS = 3  # SPEC 5: within a second on the server; the rest is the browser's slack

pytestmark = pytest.mark.browser


class ShopPages:
    """The merchant's site: pages served from their own localhost origin, another than liveloop's."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def live_page(self, path: str, *, widget_src: str, token: str, invite_url: str | None, lang: str,
                  in_head: bool = False) -> str:
        """A live page with the widget's one line (README, "Viewers in real time"); returns its URL."""
        attrs = f' data-token="{escape(token)}"'
        if invite_url:
            attrs += f' data-invite-url="{escape(invite_url)}"'
        tag = f'<script src="{escape(widget_src)}"{attrs}></script>'
        self.pages[path] = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Spring live</title>'
            f'{tag if in_head else ""}</head><body><h1>Spring live</h1><video></video>'
            f'{"" if in_head else tag}</body></html>'
        )
        return self.origin + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shop():
    pages = ShopPages()
    yield pages
    pages.close()


@pytest.fixture
def browser_context(chromium, shop):
    context = chromium.new_context(locale="en-US")
    # The widget is a shop page's guest: its invite button may write the clipboard there.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=shop.origin)
    # Every message the widget hears on its stream is dispatched as `liveloop:message`: keep them.
    context.add_init_script("window.__heard = []; window.addEventListener('liveloop:message',"
                            " function (e) { window.__heard.push(e.detail); });")
    yield context
    context.close()


def create_live_campaign(client: httpx.Client, cid: str, market: str, amount: str) -> None:
    """A campaign whose live window is open now, rewarding each friend's reservation."""
    starts = datetime.now(UTC) - timedelta(minutes=5)
    body = {
        "id": cid, "title": "Spring live", "market": market, "starts_at": iso(starts),
        "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live",
        "leaderboard": {"metric": "reservations"},
        "rules": [{"id": "rr", "type": "reservation_referral",
                   "referrer_reward": {"kind": "coupon", "amount": amount}}],
    }
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text


def reserve(client: httpx.Client, cid: str, user_id: str, code: str) -> None:
    """A friend's reservation with the viewer's code, before the live (SPEC 2: only those count)."""
    event = {"id": f"{cid}-res-{user_id}", "type": "reservation", "campaign_id": cid, "user_id": user_id,
             "at": iso(datetime.now(UTC) - timedelta(hours=1)), "ref": code}
    response = client.post("/v1/events", json={"events": [event]})
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text


def put_user(client: httpx.Client, user_id: str, **body) -> None:
    response = client.put(f"/v1/users/{user_id}", json=body)
    assert response.status_code in (200, 201), response.text


def open_live_page(context, url: str):
    """Opens a live page and returns it once the widget's first beat is answered and its stream is
    subscribed (the server sends the stream's headers only after subscribing it)."""
    page = context.new_page()
    with page.expect_response(lambda r: "/v1/presence" in r.url and r.request.method == "POST") as beat, \
            page.expect_response(lambda r: "/v1/stream" in r.url) as stream:
        page.goto(url)
    assert beat.value.status == 200 and beat.value.json()["next_beat_seconds"] == 30
    assert stream.value.status == 200
    assert stream.value.headers["content-type"].startswith("text/event-stream")
    return page


def panel(page):
    # Playwright's CSS locators pierce the widget's open shadow root.
    return page.locator("[data-liveloop] .p")


def test_the_panel_beats_and_shows_a_friends_reservation_pushed_over_the_stream(
        server, client, cid, shop, browser_context):
    from playwright.sync_api import expect

    create_live_campaign(client, cid, "US", "5.00")
    code = invite(client, cid, "alice")
    invite_url = f"{server.url}/s/{code}"
    url = shop.live_page(f"/{cid}/alice", widget_src=f"{server.url}/widget/liveloop.js",
                         token=viewer_token(client, cid, "alice"), invite_url=invite_url, lang="en")
    assert client.get(f"/v1/campaigns/{cid}/report").json()["room"]["viewers"] == 0

    page = open_live_page(browser_context, url)

    # 1. The panel: an invite button that hands over the viewer's own link, in English, left to right.
    box = panel(page)
    expect(box).to_be_visible()
    expect(box).to_have_attribute("dir", "ltr")
    button = box.locator("button")
    expect(button).to_have_text("Invite friends")
    assert page.evaluate("typeof navigator.share") == "undefined"  # headless Linux: the clipboard path
    button.click()
    expect(box.locator("li").first).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == invite_url

    # 2. The beat was a room join: the server counts the viewer in the room (SPEC 5, presence).
    room = client.get(f"/v1/campaigns/{cid}/report").json()["room"]
    assert (room["viewers"], room["present"]) == (1, 1)
    assert client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()["metrics"]["joins"] == 0  # her own

    # 3. A friend reserves with her code: the panel says so, and her reward and rank, without a reload.
    page.evaluate("window.__same_page = true")
    put_user(client, f"{cid}-fina", market="US", display_name="Fina")
    reserve(client, cid, f"{cid}-fina", code)
    items = box.locator("li")  # the newest first
    expect(items).to_have_text(["You are now number 1 on the leaderboard", "You earned a $5 coupon",
                                "Fina reserved a seat with your invite", "Link copied"], timeout=PUSH_SECONDS * 1000)
    assert page.evaluate("window.__same_page") is True
    heard = page.evaluate("window.__heard")
    assert [m["type"] for m in heard] == ["friend_reserved", "reward", "rank"]
    assert heard[0]["friend"] == {"user_id": f"{cid}-fina", "display_name": "Fina"}
    progress = client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()
    assert (progress["metrics"]["reservations"], progress["rank"]) == (1, 1)

    # A friend who opens the live page from her share link (?ll_ref=) joins as her referee: the friend's
    # widget passes the code on with its first beat, and Alice's panel hears of the join.
    friend_url = shop.live_page(f"/{cid}/gus", widget_src=f"{server.url}/widget/liveloop.js",
                                token=viewer_token(client, cid, f"{cid}-gus"), invite_url=None, lang="en")
    open_live_page(browser_context, f"{friend_url}?ll_ref={code}")
    expect(items.first).to_have_text("A friend joined the live with your invite", timeout=PUSH_SECONDS * 1000)
    assert client.get(f"/v1/campaigns/{cid}/users/{cid}-gus/progress").json()["referrer"] == "alice"
    assert client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()["metrics"]["joins"] == 1
    assert client.get(f"/v1/campaigns/{cid}/report").json()["room"]["present"] == 2


def test_without_an_invite_url_there_is_no_invite_button(server, client, cid, shop, browser_context):
    from playwright.sync_api import expect

    create_live_campaign(client, cid, "US", "5.00")
    url = shop.live_page(f"/{cid}/noinvite", widget_src=f"{server.url}/widget/liveloop.js",
                         token=viewer_token(client, cid, "ned"), invite_url=None, lang="en")
    page = open_live_page(browser_context, url)
    expect(panel(page)).to_be_attached()
    expect(panel(page).locator("button")).to_be_hidden()
    page.evaluate("window.liveloop.setInviteUrl('https://liveloop.example.com/s/late')")
    expect(panel(page).locator("button")).to_be_visible()


@pytest.mark.parametrize(("market", "page_lang", "locale", "direction", "invite_text", "friend_text"), [
    # Arabic, from the user's own locale (stream) and the page's lang (the widget's words); the
    # script tag sits in <head>, so the widget waits for the body.
    pytest.param("AE", "ar", "ar-AE", "rtl", "ادعُ أصدقاءك", "حجز Fina مقعدًا عبر دعوتك", id="ar"),
    # Indonesian, from the campaign's market (the viewer has no locale of their own).
    pytest.param("ID", "id-ID", None, "ltr", "Undang teman", "Fina memesan tempat lewat undanganmu", id="id"),
])
def test_the_panel_speaks_the_viewers_language_and_direction(
        server, client, cid, shop, browser_context, market, page_lang, locale, direction, invite_text, friend_text):
    from playwright.sync_api import expect

    create_live_campaign(client, cid, market, "25000" if market == "ID" else "25.00")
    viewer = f"{cid}-viewer"
    if locale:
        put_user(client, viewer, market=market, locale=locale)
    put_user(client, f"{cid}-fina", market=market, display_name="Fina")
    code = invite(client, cid, viewer)
    url = shop.live_page(f"/{cid}/{page_lang}", widget_src=f"{server.url}/widget/liveloop.js",
                         token=viewer_token(client, cid, viewer), invite_url=f"{server.url}/s/{code}",
                         lang=page_lang, in_head=page_lang == "ar")
    page = open_live_page(browser_context, url)

    box = panel(page)
    expect(box).to_have_attribute("dir", direction)
    assert box.evaluate("el => getComputedStyle(el).direction") == direction
    expect(box.locator("button")).to_have_text(invite_text)

    reserve(client, cid, f"{cid}-fina", code)
    expect(box.locator("li").last).to_have_text(friend_text, timeout=PUSH_SECONDS * 1000)


def test_a_rate_limited_stream_is_opened_again_after_its_retry_after_not_taken_for_an_expired_token(
        server, client, cid, shop, browser_context):
    # The server's own 429 on a stream says when to come back (Retry-After); here the first two requests
    # to the stream (the EventSource's and the widget's question why it was refused) are answered so.
    create_live_campaign(client, cid, "US", "5.00")
    code = invite(client, cid, "alice")
    url = shop.live_page(f"/{cid}/limited", widget_src=f"{server.url}/widget/liveloop.js",
                         token=viewer_token(client, cid, "alice"), invite_url=None, lang="en")
    browser_context.add_init_script("window.__expired = 0; window.addEventListener('liveloop:token-expired',"
                                    " function () { window.__expired += 1; });")
    asked: list[tuple[float, str]] = []

    def limited(route) -> None:
        asked.append((time.monotonic(), "refused" if len(asked) < 2 else "passed"))
        if len(asked) <= 2:
            route.fulfill(status=429, headers={"Retry-After": "2", "Access-Control-Allow-Origin": "*",
                                               "Access-Control-Expose-Headers": "retry-after",
                                               "Content-Type": "application/json"},
                          body='{"error": {"code": "too_many_requests", "message": "slow down", "field": null}}')
        else:
            route.continue_()

    browser_context.route("**/v1/stream?*", limited)
    page = browser_context.new_page()
    with page.expect_response(lambda r: "/v1/stream" in r.url and r.status == 200, timeout=15_000):
        page.goto(url)
    assert [what for _at, what in asked] == ["refused", "refused", "passed"]
    assert asked[2][0] - asked[1][0] >= 1.9  # not before the Retry-After
    assert page.evaluate("window.__expired") == 0

    # The stream it opened is the viewer's: a friend's reservation is heard on it.
    reserve(client, cid, f"{cid}-fina", code)
    page.wait_for_function("window.__heard.some(function (m) { return m.type === 'friend_reserved'; })",
                           timeout=PUSH_SECONDS * 1000)
    assert page.evaluate("window.__expired") == 0


def test_a_stream_refused_for_its_token_asks_the_page_for_a_fresh_one(server, client, cid, shop, browser_context):
    create_live_campaign(client, cid, "US", "5.00")
    url = shop.live_page(f"/{cid}/expired", widget_src=f"{server.url}/widget/liveloop.js",
                         token="not-a-token", invite_url=None, lang="en")
    browser_context.add_init_script("window.__expired = 0; window.addEventListener('liveloop:token-expired',"
                                    " function () { window.__expired += 1; });")
    # Its beats are answered: only the stream can tell the widget that the token does not work.
    browser_context.route("**/v1/presence", lambda route: route.fulfill(
        status=200, headers={"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"},
        body='{"next_beat_seconds": 30}'))
    streams: list[int] = []
    page = browser_context.new_page()
    page.on("response", lambda r: streams.append(r.status) if "/v1/stream" in r.url else None)
    page.goto(url)
    page.wait_for_function("window.__expired === 1", timeout=10_000)
    page.wait_for_timeout(2_500)  # no retry follows: the widget waits for setToken
    assert page.evaluate("window.__expired") == 1
    assert set(streams) == {401} and len(streams) <= 2
