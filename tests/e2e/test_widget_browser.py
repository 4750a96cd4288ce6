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
from pathlib import Path
from urllib.parse import quote

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
    button = box.locator("button.inv")
    expect(button).to_have_text("Invite friends")
    expect(box.locator(".rk")).to_have_text("Invite friends to get on the leaderboard")
    assert page.evaluate("typeof navigator.share") == "undefined"  # headless Linux: the market's apps
    button.click()
    box.locator("[data-app=copy]").click()
    expect(box.locator(".m li").first).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == invite_url

    # 2. The beat was a room join: the server counts the viewer in the room (SPEC 5, presence).
    room = client.get(f"/v1/campaigns/{cid}/report").json()["room"]
    assert (room["viewers"], room["present"]) == (1, 1)
    assert client.get(f"/v1/campaigns/{cid}/users/alice/progress").json()["metrics"]["joins"] == 0  # her own

    # 3. A friend reserves with her code: the panel says so, and her reward and rank, without a reload.
    page.evaluate("window.__same_page = true")
    put_user(client, f"{cid}-fina", market="US", display_name="Fina")
    reserve(client, cid, f"{cid}-fina", code)
    items = box.locator(".m li")  # the newest first
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
    expect(panel(page).locator("button.inv")).to_be_hidden()
    page.evaluate("window.liveloop.setInviteUrl('https://liveloop.example.com/s/late')")
    expect(panel(page).locator("button.inv")).to_be_visible()


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
    expect(box.locator("button.inv")).to_have_text(invite_text)

    reserve(client, cid, f"{cid}-fina", code)
    expect(box.locator(".m li").last).to_have_text(friend_text, timeout=PUSH_SECONDS * 1000)


@pytest.fixture
def widget_shots(tmp_path):
    where = Path(os.environ.get("LIVELOOP_CONSOLE_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_the_panel_shows_rank_progress_rewards_and_draw_entries_and_keeps_them_current(
        server, client, cid, shop, browser_context, widget_shots):
    from playwright.sync_api import expect

    starts = datetime.now(UTC) - timedelta(minutes=5)
    body = {
        "id": cid, "title": "Spring live", "market": "SG", "starts_at": iso(starts),
        "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live",
        "leaderboard": {"metric": "reservations"},
        "rules": [{"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "5.00"}},
                  {"id": "ms", "type": "milestone", "metric": "reservations",
                   "tiers": [{"at": 3, "reward": {"kind": "coupon", "amount": "10.00"}}]},
                  {"id": "dr", "type": "draw", "entry": {"metric": "reservations", "at_least": 1}, "winners": 1,
                   "prize": {"kind": "coupon", "amount": "20.00"}, "free_entry": True}],
    }
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    code = invite(client, cid, "mia")
    url = shop.live_page(f"/{cid}/mia", widget_src=f"{server.url}/widget/liveloop.js",
                         token=viewer_token(client, cid, "mia"), invite_url=f"{server.url}/s/{code}", lang="en")
    page = open_live_page(browser_context, url)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    box = panel(page)
    expect(box.locator(".rk")).to_have_text("Invite friends to get on the leaderboard")
    expect(box.locator(".nr")).to_have_text("Next reward: a $10 coupon")
    expect(box.locator(".pg")).to_have_text("0 of 3")
    expect(box.locator(".dr")).to_have_text("Draw entries: 0 of 1")
    expect(box.locator(".rws")).to_be_hidden()

    # A friend reserves: her rank, progress, reward and draw entry follow, without a reload. The friend's
    # name is hostile: it shows as typed.
    hostile = "<img src=x onerror=alert(1)>"
    put_user(client, f"{cid}-f1", market="SG", display_name=hostile)
    reserve(client, cid, f"{cid}-f1", code)
    expect(box.locator(".rk")).to_have_text("Your rank: 1", timeout=PUSH_SECONDS * 1000)
    expect(box.locator(".pg")).to_have_text("1 of 3")
    bar = box.locator("[role=progressbar]")
    assert (bar.get_attribute("aria-valuenow"), bar.get_attribute("aria-valuemax")) == ("1", "3")
    expect(box.locator(".rw li")).to_have_text(["a $5 coupon"])
    expect(box.locator(".dr")).to_have_text("Draw entries: 1 of 1")
    expect(box.locator(".m li", has_text="reserved a seat")).to_have_text(f"{hostile} reserved a seat with your invite")
    assert box.locator("img").count() == 0 and not dialogs
    # The news is announced to screen readers as it arrives (a polite live region).
    assert box.locator(".m").get_attribute("aria-live") == "polite"
    page.screenshot(path=str(widget_shots / "widget-en.png"))

    # Two more: the milestone is reached, its coupon joins the list, and no next milestone remains.
    for i in (2, 3):
        reserve(client, cid, f"{cid}-f{i}", code)
    expect(box.locator(".rw li")).to_have_text(["a $5 coupon × 3", "a $10 coupon"], timeout=PUSH_SECONDS * 1000)
    expect(box.locator(".ms")).to_be_hidden()
    progress = client.get(f"/v1/campaigns/{cid}/users/mia/progress").json()
    assert progress["next_milestone"] is None and progress["rank"] == 1


def test_the_viewer_progress_needs_a_viewer_token_and_answers_any_origin(server, client, cid):
    create_live_campaign(client, cid, "TH", "50.00")
    answer = httpx.get(f"{server.url}/v1/viewer/progress", params={"token": viewer_token(client, cid, "som")},
                       headers={"Origin": "https://shop.example.com"})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"
    body = answer.json()
    assert body["share_apps"][0] == "line" and body["share_apps"][-1] == "copy"
    assert (body["rank"], body["rewards"], body["next_milestone"]) == (None, [], None)
    refused = httpx.get(f"{server.url}/v1/viewer/progress", params={"token": "forged"})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"
    assert refused.json()["error"]["code"] == "unauthorized"
    assert httpx.get(f"{server.url}/v1/viewer/progress").status_code == 401


@pytest.mark.parametrize(("market", "page_lang", "first", "direction"), [
    pytest.param("TH", "th", "line", "ltr", id="TH"),
    pytest.param("ID", "id", "whatsapp", "ltr", id="ID"),
    pytest.param("SA", "ar", "whatsapp", "rtl", id="SA"),
])
def test_the_share_sheet_offers_the_markets_apps_and_works_from_the_keyboard(
        server, client, cid, shop, browser_context, widget_shots, market, page_lang, first, direction):
    from playwright.sync_api import expect

    create_live_campaign(client, cid, market, "50.00" if market != "ID" else "25000")
    code = invite(client, cid, "kai")
    invite_url = f"{server.url}/s/{code}"
    url = shop.live_page(f"/{cid}/kai", widget_src=f"{server.url}/widget/liveloop.js",
                         token=viewer_token(client, cid, "kai"), invite_url=invite_url, lang=page_lang)
    page = open_live_page(browser_context, url)
    box = panel(page)
    expect(box).to_have_attribute("dir", direction)
    expect(box.locator(".rk")).to_be_visible()  # the standing has been read: the market's apps are known
    button = box.locator("button.inv")
    assert button.get_attribute("aria-expanded") == "false"
    button.focus()
    page.keyboard.press("Enter")
    sheet = box.locator(".sh")
    expect(sheet).to_be_visible()
    assert button.get_attribute("aria-expanded") == "true"
    assert sheet.get_attribute("id") == button.get_attribute("aria-controls")
    order = box.locator(".ap [data-app]").evaluate_all("els => els.map(e => e.dataset.app)")
    assert order[0] == first and order[-1] == "copy" and len(order) == 6
    # Focus moved into the sheet, on its first app; its links carry the viewer's own link.
    assert page.evaluate("document.querySelector('[data-liveloop]').shadowRoot.activeElement.dataset.app") == first
    for app in order[:-1]:
        href = box.locator(f"[data-app={app}]").get_attribute("href")
        assert href.startswith("https://") and quote(invite_url, safe="") in href, (app, href)
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('[data-liveloop]').shadowRoot.activeElement.dataset.app") == order[1]
    if direction == "rtl":
        assert sheet.evaluate("el => getComputedStyle(el).direction") == "rtl"
        page.screenshot(path=str(widget_shots / "widget-ar.png"))
    # Escape closes it and gives the focus back to the invite button.
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    assert button.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.querySelector('[data-liveloop]').shadowRoot.activeElement.className") == "inv"
    # Copy link, from the keyboard too.
    page.keyboard.press("Enter")
    box.locator("[data-app=copy]").focus()
    page.keyboard.press("Enter")
    expect(sheet).to_be_hidden()
    assert page.evaluate("navigator.clipboard.readText()") == invite_url


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
