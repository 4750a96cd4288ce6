"""The viewer widget's group buys, flash deals and question box (SPEC 13 and 15) in a real headless
Chromium, embedded on a shop page of its own origin as test_widget_browser.py does, against the real
server (SQLite, and PostgreSQL + Redis when configured). What is checked is what the viewer sees, and
what reached the API (the host's question queue).

Screenshots (English and Arabic) go where test_widget_browser.py puts them ($LIVELOOP_CONSOLE_SCREENSHOTS,
docs/console/ for the documentation)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.helpers import campaign, event, invite, iso, post_ok, send
from tests.e2e.test_realtime import viewer_token
from tests.e2e.test_widget_browser import (  # noqa: F401 - fixtures
    PUSH_SECONDS,
    browser_context,
    chromium,
    open_live_page,
    panel,
    put_user,
    shop,
    widget_shots,
)

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

HOSTILE = "<img src=x onerror=alert(1)>"
SKU = "WOK-28CM"
GROUP_RULE = {"id": "pintuan", "type": "group_buy", "sku": SKU, "group_size": 3, "window_minutes": 30,
              "reward": {"kind": "coupon", "amount": "4.00"}}
EARLY = {"id": "insider", "type": "milestone", "metric": "joins",
         "tiers": [{"at": 1, "reward": {"kind": "privilege", "name": "early_notice"}}]}
WAIT = PUSH_SECONDS * 1000


def pay(client: httpx.Client, cid: str, user: str, group_id: str) -> None:
    """A paid order for the group's sku, naming the group: the user joins it (SPEC 13)."""
    order = {"id": f"o-{cid}-{user}", "amount": "19.90", "currency": "USD", "sku": SKU, "group_id": group_id}
    send(client, [event(f"pay-{user}", "order_paid", cid, user, datetime.now(UTC), order=order)])


def flash_deal(client: httpx.Client, cid: str, deal_id: str, title: str, *, starts_in: float, lasts: float | None,
               early_minutes: float = 0) -> dict:
    starts = datetime.now(UTC) + timedelta(seconds=starts_in)
    body = {"id": deal_id, "title": title, "starts_at": iso(starts), "early_minutes": early_minutes}
    if lasts is not None:
        body["ends_at"] = iso(starts + timedelta(seconds=lasts))
    return post_ok(client, f"/v1/campaigns/{cid}/flash-deals", body)


def live_page(server, shop, client, cid: str, user: str, *, lang: str = "en",  # noqa: F811
              invite_url: str | None = None) -> str:
    return shop.live_page(f"/{cid}/{user}", widget_src=f"{server.url}/widget/liveloop.js",
                          token=viewer_token(client, cid, user), invite_url=invite_url, lang=lang)


def time_left(minutes: int) -> re.Pattern:
    return re.compile(rf"^Time left: {minutes}:[0-5]\d$")


def watch_dialogs(page) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def test_a_groups_progress_follows_its_members_paid_orders_and_shares_its_own_link(
        server, client, cid, shop, browser_context):  # noqa: F811
    post_ok(client, "/v1/campaigns", campaign(cid, rules=[GROUP_RULE]))
    group = post_ok(client, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})
    page = open_live_page(browser_context, live_page(server, shop, client, cid, "lin",
                                                     invite_url=f"{server.url}/s/{invite(client, cid, 'lin')}"))
    box = panel(page)

    # The standing lists the group the viewer leads: nobody has paid yet, the window's time counts down.
    groups = box.locator(".gp")
    expect(groups).to_be_visible()
    expect(groups.locator(".gh")).to_have_text("Your group buy")
    expect(groups.locator(".gm")).to_have_text("0 of 3 joined")
    expect(groups.locator(".gt")).to_have_text([time_left(29)])
    bar = groups.locator("[role=progressbar]")
    assert (bar.get_attribute("aria-valuenow"), bar.get_attribute("aria-valuemax")) == ("0", "3")

    # Members pay through the API: the panel follows each `group_progress` message, with no reload.
    page.evaluate("window.__same_page = true")
    pay(client, cid, "mei", group["id"])
    expect(groups.locator(".gm")).to_have_text("1 of 3 joined", timeout=WAIT)
    assert bar.get_attribute("aria-valuenow") == "1"
    # The group's line is updated in place: its share button keeps the keyboard focus as members join.
    share = groups.locator("button.gb")
    expect(share).to_have_text("Share group link")
    share.focus()
    pay(client, cid, "lin", group["id"])
    expect(groups.locator(".gm")).to_have_text("2 of 3 joined", timeout=WAIT)
    assert [m["type"] for m in page.evaluate("window.__heard")].count("group_progress") == 2
    assert page.evaluate("document.querySelector('[data-liveloop]').shadowRoot.activeElement.className") == "gb"

    # It shares the group's own link (the market's apps here: no Web Share in headless Linux).
    page.keyboard.press("Enter")
    expect(box.locator(".sh")).to_be_visible()
    assert share.get_attribute("aria-expanded") == "true"
    assert box.locator("button.inv").get_attribute("aria-expanded") == "false"
    box.locator("[data-app=copy]").click()
    assert page.evaluate("navigator.clipboard.readText()") == group["url"]

    # The third member fills it: the panel says so, and the leader's reward follows.
    pay(client, cid, "nur", group["id"])
    expect(groups.locator(".gm")).to_have_text("3 of 3 joined", timeout=WAIT)
    expect(groups.locator(".gt")).to_have_text("Your group is complete!")
    expect(groups.locator("button.gb")).to_have_count(0)
    expect(box.locator(".rw li")).to_have_text(["a $4 coupon"], timeout=WAIT)
    assert page.evaluate("window.__same_page") is True
    assert client.get(f"/v1/campaigns/{cid}/groups/{group['id']}").json()["status"] == "completed"


def test_a_flash_deal_comes_early_to_early_notice_holders_counts_down_and_goes_when_it_ends(
        server, client, cid, shop, browser_context):  # noqa: F811
    post_ok(client, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[EARLY]))
    code = invite(client, cid, "ana")
    send(client, [event("f1", "room_join", cid, "friend1", datetime.now(UTC), ref=code)])  # ana: early_notice
    ana = open_live_page(browser_context, live_page(server, shop, client, cid, "ana"))
    budi = open_live_page(browser_context, live_page(server, shop, client, cid, "budi"))
    dialogs = watch_dialogs(ana) + watch_dialogs(budi)

    # Early for the holder (its title is hostile: shown as typed), on time for everyone else.
    flash_deal(client, cid, "wok-50", HOSTILE, starts_in=4, lasts=8, early_minutes=1)
    deal = panel(ana).locator(".fl li")
    expect(deal).to_have_count(1, timeout=WAIT)
    expect(deal.locator("b")).to_have_text("Flash deal · You hear it first")
    expect(deal.locator(".tt")).to_have_text(HOSTILE)
    expect(deal.locator("small")).to_have_text(re.compile(r"^Starts in 0:0[1-4]$"))
    assert panel(budi).locator(".fl li").count() == 0
    expect(panel(ana).locator(".m li").first).to_have_text(f"Flash deal: {HOSTILE}")
    assert panel(budi).locator(".fl li").count() == 0

    expect(panel(budi).locator(".fl li .tt")).to_have_text(HOSTILE, timeout=(4 + PUSH_SECONDS) * 1000)
    expect(panel(budi).locator(".fl li b")).to_have_text("Flash deal")
    expect(deal.locator("small")).to_have_text(re.compile(r"^Ends in 0:0[1-8]$"))
    # A viewer who opens the live page while it runs has it too: from the standing, and from their
    # stream, which tells each viewer once (docs/social.md); the widget shows it once.
    chen = open_live_page(browser_context, live_page(server, shop, client, cid, "chen"))
    expect(panel(chen).locator(".fl li .tt")).to_have_text(HOSTILE)
    chen.wait_for_function("window.__heard.some(m => m.type === 'flash_deal')", timeout=WAIT)
    assert [m["phase"] for m in chen.evaluate("window.__heard") if m["type"] == "flash_deal"] == ["start"]
    expect(panel(chen).locator(".fl li")).to_have_count(1)
    for page in (ana, budi):
        assert panel(page).locator("img").count() == 0
        assert [m["phase"] for m in page.evaluate("window.__heard") if m["type"] == "flash_deal"] == (
            ["early"] if page is ana else ["start"])

    # At its end it is taken down on both panels.
    expect(panel(ana).locator(".fl")).to_be_hidden(timeout=(8 + PUSH_SECONDS) * 1000)
    for page in (budi, chen):
        expect(panel(page).locator(".fl li")).to_have_count(0)
    late = open_live_page(browser_context, live_page(server, shop, client, cid, "dewi"))
    expect(panel(late).locator(".rk")).to_be_visible()  # the standing was read: no deal in it
    assert panel(late).locator(".fl li").count() == 0
    assert not dialogs


def test_a_question_reaches_the_hosts_queue_and_a_bad_one_is_refused_next_to_the_box(
        server, client, cid, shop, browser_context):  # noqa: F811
    post_ok(client, "/v1/campaigns", campaign(cid))
    page = open_live_page(browser_context, live_page(server, shop, client, cid, "chen"))
    dialogs = watch_dialogs(page)
    box = panel(page)
    form = box.locator("form.q")
    field = form.get_by_label("Ask the host a question")  # the box is labelled for screen readers
    status = form.locator(".qs")
    assert field.get_attribute("aria-describedby") == status.get_attribute("id")
    assert status.get_attribute("role") == "status"

    # Empty: the API's 422, told next to the box, the box marked invalid and focused again.
    field.focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text("Write your question first")
    expect(field).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.querySelector('[data-liveloop]').shadowRoot.activeElement.id") == "liveloop-ask"
    # 2,000 characters: too long.
    field.fill("x" * 2000)
    page.keyboard.press("Enter")
    expect(status).to_have_text("Keep your question under 2,000 characters")
    assert client.get(f"/v1/campaigns/{cid}/questions").json()["questions"] == []

    # From the keyboard: typed, Enter, a confirmation; the host's queue has it as typed.
    question = f"Does it fit a 28 cm lid? {HOSTILE}"
    field.fill("")
    page.keyboard.type(question)
    expect(field).not_to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Enter")
    expect(status).to_have_text("Your question was sent to the host")
    expect(field).to_have_value("")
    queue = client.get(f"/v1/campaigns/{cid}/questions").json()["questions"]
    assert [(q["user_id"], q["text"]) for q in queue] == [("chen", question)]
    assert box.locator("img").count() == 0 and not dialogs


def test_the_questions_route_answers_the_shops_origin(server, client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid))
    origin = {"Origin": "https://shop.example.com"}
    preflight = httpx.options(f"{server.url}/v1/questions", headers={
        **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert "content-type" in preflight.headers["access-control-allow-headers"]
    token = viewer_token(client, cid, "dee")
    for text, status in (("Which sizes?", 201), ("", 422)):
        answer = httpx.post(f"{server.url}/v1/questions", json={"token": token, "text": text}, headers=origin)
        assert answer.status_code == status and answer.headers["access-control-allow-origin"] == "*", answer.text
    forged = httpx.post(f"{server.url}/v1/questions", json={"token": "forged", "text": "Hi?"}, headers=origin)
    assert forged.status_code == 401 and forged.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(("market", "lang", "direction", "members", "asked"), [
    pytest.param("US", "en", "ltr", "1 of 3 joined", "Your question was sent to the host", id="en"),
    pytest.param("AE", "ar", "rtl", "انضم 1 من 3", "أُرسل سؤالك إلى المضيف", id="ar"),
])
def test_groups_deals_and_questions_in_the_viewers_language_and_direction(
        server, client, cid, shop, browser_context, widget_shots, market, lang, direction, members, asked):  # noqa: F811
    body = campaign(cid, market=market, leaderboard={"metric": "reservations"}, rules=[
        GROUP_RULE,
        {"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "amount": "5.00"}},
        {"id": "ms", "type": "milestone", "metric": "reservations",
         "tiers": [{"at": 3, "reward": {"kind": "coupon", "amount": "10.00"}}]}])
    post_ok(client, "/v1/campaigns", body)
    viewer = f"{cid}-sara"  # users are the tenant's: her own, in this market and language
    put_user(client, viewer, market=market, locale="ar-AE" if lang == "ar" else "en-US")
    group = post_ok(client, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": viewer})
    code = invite(client, cid, viewer)
    page = open_live_page(browser_context, live_page(server, shop, client, cid, viewer, lang=lang,
                                                     invite_url=f"{server.url}/s/{code}"))
    box = panel(page)
    expect(box).to_have_attribute("dir", direction)
    pay(client, cid, "mei", group["id"])
    expect(box.locator(".gm")).to_have_text(members, timeout=WAIT)
    flash_deal(client, cid, "wok", "Wok 28 cm −50%" if lang == "en" else "مقلاة ووك ٢٨ سم بنصف السعر",
               starts_in=0, lasts=15 * 60)
    expect(box.locator(".fl li")).to_have_count(1, timeout=(1 + PUSH_SECONDS) * 1000)
    for section in (".fl", ".gp", "form.q"):
        assert box.locator(section).evaluate("el => getComputedStyle(el).direction") == direction
    box.locator("form.q input").fill("Is there a 32 cm one?" if lang == "en" else "هل يوجد مقاس ٣٢ سم؟")
    box.locator("form.q button").click()
    expect(box.locator(".qs")).to_have_text(asked)
    page.emulate_media(reduced_motion="reduce")  # the newest news line settled, not caught fading in
    page.screenshot(path=str(widget_shots / f"widget-social-{lang}.png"))
