"""The operator console in a real headless Chromium: what an operator sees and does.

Screenshots of the main pages are written to $LIVELOOP_CONSOLE_SCREENSHOTS when it is set (docs/console.md
shows them), else to the test's temporary directory.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.console_helpers import Login, new_login
from tests.e2e.helpers import invite, iso
from tests.e2e.test_widget_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

NOW = datetime.now()  # the form reads times in the market's zone; any zone is within a day of this


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield browser
        browser.close()


@pytest.fixture
def login(server) -> Login:
    return new_login(server.database_url)


@pytest.fixture
def context(chromium):
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    where = Path(os.environ.get("LIVELOOP_CONSOLE_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def watch_errors(page) -> list[str]:
    """Script errors, refused loads (CSP) and failed requests of the page, to assert there are none."""
    seen: list[str] = []

    def heard(msg) -> None:
        # A page answered 401/403/422/429 on purpose (a refused form) is logged too: not a fault.
        if msg.type == "error" and not any(f"status of {code}" in msg.text for code in (401, 403, 422, 429)):
            seen.append(f"console: {msg.text}")

    page.on("pageerror", lambda exc: seen.append(f"error: {exc}"))
    page.on("console", heard)
    return seen


def sign_in(page, base: str, login: Login) -> None:
    page.goto(base + "/console")
    assert page.url.endswith("/console/login")
    page.fill("input[name=email]", login.email)
    page.fill("input[name=password]", login.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/campaigns")


def test_an_operator_signs_in_and_out_and_the_old_cookie_opens_nothing(server, context, login, shots):
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(server.url + "/console")
    page.screenshot(path=str(shots / "login-en.png"))
    sign_in(page, server.url, login)
    assert page.locator("h1").inner_text() == "Campaigns"
    assert login.email.lower() in page.locator(".who").inner_text()
    [cookie] = [c for c in context.cookies() if c["name"] == "liveloop_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    assert page.evaluate("document.cookie").find("liveloop_console") == -1  # scripts cannot read it
    page.click("[data-test=logout]")
    page.wait_for_url("**/console/login?out=1")
    assert "You are signed out." in page.locator(".notice").inner_text()
    # The session is over on the server too: the old cookie, put back, opens nothing.
    context.add_cookies([cookie])
    page.goto(server.url + "/console/campaigns")
    assert "/console/login" in page.url
    assert not errors, errors


def test_a_wrong_password_is_refused_on_the_page(server, context, login):
    page = context.new_page()
    page.goto(server.url + "/console/login")
    page.fill("input[name=email]", login.email)
    page.fill("input[name=password]", "wrong password!")
    page.click("button[type=submit]")
    assert page.locator("[data-test=login-error]").inner_text() == "Wrong email or password."
    assert page.locator("input[name=email]").input_value() == login.email  # kept; the password is not
    assert page.locator("input[name=password]").input_value() == ""


def test_a_form_posted_without_its_csrf_token_is_refused(server, context, login):
    page = context.new_page()
    sign_in(page, server.url, login)
    page.evaluate("document.querySelector('form[action=\"/console/logout\"] input[name=csrf]').remove()")
    with page.expect_response("**/console/logout") as answer:
        page.click("[data-test=logout]")
    assert answer.value.status == 403
    assert page.locator("[data-test=csrf-refused]").is_visible()
    # Nothing happened: the operator is still signed in.
    page.goto(server.url + "/console/campaigns")
    assert page.url.endswith("/console/campaigns")


def test_an_expired_session_goes_back_to_the_login_page(server, context, login):
    page = context.new_page()
    sign_in(page, server.url, login)
    engine = sa.create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE operator_sessions SET expires_at = 1 WHERE operator_id IN "
                             "(SELECT id FROM operators WHERE email = :e)"), {"e": login.email.lower()})
    engine.dispose()
    page.goto(server.url + "/console/campaigns")
    assert page.url.endswith("/console/login?expired=1")
    assert "Your session has ended" in page.locator(".notice").inner_text()


def test_the_arabic_console_reads_right_to_left(server, chromium, login, shots):
    context = chromium.new_context(locale="ar-SA", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server.url + "/console/login")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("html").get_attribute("lang") == "ar"
        assert page.locator("h1").inner_text() == "تسجيل الدخول"
        page.screenshot(path=str(shots / "login-ar.png"))
        sign_in(page, server.url, login)
        assert page.locator("h1").inner_text() == "الحملات"
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        # The switcher changes the language for the following pages.
        page.click("a[lang=zh]")
        assert page.locator("h1").inner_text() == "活动"
        assert page.locator("html").get_attribute("dir") == "ltr"
    finally:
        context.close()


def fill_campaign(page, cid: str, *, market: str, title: str = "Spring live") -> None:
    page.fill("input[name=id]", cid)
    page.fill("input[name=title]", title)
    page.select_option("select[name=market]", market)
    page.fill("input[name=starts_at]", (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=ends_at]", (NOW + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=landing_url]", "https://shop.example.com/live")
    page.fill("input[name=referral_amount]", "50")


def test_a_campaign_refused_by_its_market_policy_shows_why_on_the_form_then_is_created(
        server, context, login, cid, shots):
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, server.url, login)
    page.click("text=Create a campaign")
    fill_campaign(page, cid, market="TH")
    page.check("input[name=draw]")
    page.fill("input[name=draw_winners]", "3")
    page.fill("input[name=draw_prize]", "100")
    with page.expect_response(lambda r: r.url.endswith("/console/campaigns") and r.request.method == "POST") as sent:
        page.click("form.form button[type=submit]")
    assert sent.value.status == 422
    # The API's own refusal (POST /v1/campaigns says the same), on the field it is about.
    permit = page.locator(".field-error[data-field=draw_permit]")
    assert "permit" in permit.inner_text() and "Department of Provincial Administration" in permit.inner_text()
    assert page.locator("input[name=draw_permit]").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=id]").input_value() == cid  # what was typed is kept
    page.screenshot(path=str(shots / "create-refused-en.png"), full_page=True)
    page.fill("input[name=draw_permit]", "DOPA-2026-118")
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/console/campaigns?created=*")
    assert page.locator("[data-test=created]").inner_text() == f"Campaign {cid} created."
    row = page.locator(f"section[data-status=live] tr[data-campaign='{cid}']")
    assert row.locator("td").nth(2).inner_text() == "TH"
    assert row.locator("td").nth(3).inner_text().count("Indochina Time") == 2  # in the campaign's own zone
    # The API holds what was typed, read in the market's time zone (Asia/Bangkok, UTC+7).
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {login.api_key}"}) as api:
        stored = api.get(f"/v1/campaigns/{cid}").json()
    typed = (NOW - timedelta(hours=1)).replace(second=0, microsecond=0)
    assert datetime.fromisoformat(stored["starts_at"]) == (typed - timedelta(hours=7)).replace(tzinfo=UTC)
    assert [r["type"] for r in stored["rules"]] == ["reservation_referral", "draw"]
    assert stored["rules"][1]["permit"] == "DOPA-2026-118"
    page.screenshot(path=str(shots / "campaigns-en.png"), full_page=True)
    assert not errors, errors


def test_the_create_form_marks_each_field_the_api_refuses(server, context, login, cid):
    page = context.new_page()
    sign_in(page, server.url, login)
    page.goto(server.url + "/console/campaigns/new")
    fill_campaign(page, cid, market="US")
    page.fill("input[name=landing_url]", "http://shop.example.com/live")
    page.fill("input[name=referral_amount]", "fifty")
    page.click("form.form button[type=submit]")
    assert "https" in page.locator(".field-error[data-field=landing_url]").inner_text()
    assert "must be a decimal" in page.locator(".field-error[data-field=referral_amount]").inner_text()
    # Ends before it starts: about no one field, said above the form.
    fill_campaign(page, cid, market="US")
    page.fill("input[name=ends_at]", (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("form.form button[type=submit]")
    assert "ends_at must be after starts_at" in page.locator("[data-test=refused]").inner_text()


def live_campaign(api: httpx.Client, cid: str) -> datetime:
    starts = datetime.now(UTC) - timedelta(minutes=30)
    body = {"id": cid, "title": "Ramadan night live", "market": "SG", "starts_at": iso(starts),
            "ends_at": iso(starts + timedelta(hours=3)), "landing_url": "https://shop.example.com/live",
            "leaderboard": {"metric": "joins", "public": False}, "rules": []}
    assert api.post("/v1/campaigns", json=body).status_code == 201
    return starts


def joins(api: httpx.Client, cid: str, starts: datetime, who: list[tuple[str, str | None]]) -> None:
    events = [{"id": f"{cid}-{user}", "type": "room_join", "campaign_id": cid, "user_id": user,
               "at": iso(starts + timedelta(minutes=1)), **({"ref": code} if code else {})} for user, code in who]
    answer = api.post("/v1/events", json={"events": events})
    assert answer.status_code == 200 and answer.json()["accepted"] == len(events), answer.text


def counter(page, name: str) -> str:
    return page.locator(f"[data-counter={name}]").inner_text()


def test_the_room_view_follows_the_room_stream_without_reload(server, context, login, cid, shots):
    hostile = "<img src=x onerror=alert(1)>"
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {login.api_key}"}) as api:
        starts = live_campaign(api, cid)
        codes = {user: invite(api, cid, user) for user in ("amira", "bo")}
        for user, name in (("amira", "Amira"), ("bo", hostile)):
            assert api.put(f"/v1/users/{user}", json={"market": "SG", "display_name": name}).status_code in (200, 201)
        joins(api, cid, starts, [("f1", codes["amira"]), ("o1", None)])

        page = context.new_page()
        errors = watch_errors(page)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(page, server.url, login)
        with page.expect_response(lambda r: "/room-stream" in r.url) as stream:
            page.click(f"tr[data-campaign='{cid}'] >> text=Room view")
        # The page reads the stream with a room token, never with the API key.
        assert "token=" in stream.value.url and login.api_key not in page.content()
        assert stream.value.status == 200
        expect(page.locator("#room-status")).to_have_attribute("data-state", "live")
        expect(page.locator("[data-counter=joins]")).to_have_text("2")
        assert counter(page, "referred_joins") == "1"
        expect(page.locator("#leaderboard tr")).to_have_count(1)
        assert page.locator("#k-factor").inner_text() == "0.50"
        k_points = "Chart.getChart('k-chart').data.datasets[0].data"
        assert page.evaluate(k_points)[-1] == 0.5

        # Events posted through the API move the counters and the leaderboard, without a reload.
        page.evaluate("window.__same_page = true")
        joins(api, cid, starts, [(f"g{i}", codes["bo"]) for i in range(3)] + [("o2", None)])
        expect(page.locator("[data-counter=joins]")).to_have_text("6", timeout=5000)
        assert counter(page, "referred_joins") == "4"
        rows = page.locator("#leaderboard tr")
        expect(rows).to_have_count(2)
        # The hostile name is text: shown as typed, no element made from it, no script run.
        assert rows.nth(0).locator(".name").inner_text() == hostile
        assert rows.nth(0).locator("img").count() == 0 and not dialogs
        assert rows.nth(0).locator(".score").inner_text() == "3"
        assert rows.nth(1).locator(".name").inner_text() == "Amira"
        assert page.evaluate("window.__same_page") is True
        # Charts drawn by Chart.js: the funnel holds the counters, the joins chart this minute's joins.
        funnel = page.evaluate("Chart.getChart('funnel-chart').data.datasets[0].data")
        assert funnel[1] == 6
        per_minute = page.evaluate("Chart.getChart('joins-chart').data.datasets[0].data")
        assert sum(per_minute) >= 4 and len(per_minute) == 30
        # The K-factor is polled by htmx every 10 s: 1 referred viewer for 2 invite holders at first, then 4.
        expect(page.locator("#k-factor")).to_have_text("2.00", timeout=15_000)
        # ... and the K-factor chart's last point (this 5 minutes) moves with it, without a reload.
        page.wait_for_function(f"{k_points}.slice(-1)[0] === 2")
        assert page.evaluate("window.__same_page") is True
        page.screenshot(path=str(shots / "room-en.png"), full_page=True)
        assert not errors, errors


def test_the_arabic_room_view_reads_right_to_left(server, chromium, login, cid, shots):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {login.api_key}"}) as api:
        starts = live_campaign(api, cid)
        code = invite(api, cid, "fatima")
        assert api.put("/v1/users/fatima", json={"market": "SG", "display_name": "فاطمة"}).status_code in (200, 201)
        joins(api, cid, starts, [("f1", code), ("f2", code), ("o1", None)])
    context = chromium.new_context(locale="ar-SA", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = watch_errors(page)
        sign_in(page, server.url, login)
        page.screenshot(path=str(shots / "campaigns-ar.png"), full_page=True)
        page.goto(f"{server.url}/console/campaigns/{cid}/room")
        assert page.locator("html").get_attribute("dir") == "rtl"
        expect(page.locator("#room-status")).to_have_text("تحديثات مباشرة")
        expect(page.locator("#leaderboard tr .name")).to_have_text("فاطمة")
        assert page.locator("[data-counter=joins]").inner_text() == "3"
        page.screenshot(path=str(shots / "room-ar.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()


def test_a_campaign_of_another_tenant_has_no_room_view(server, context, login, cid):
    other = new_login(server.database_url)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other.api_key}"}) as api:
        live_campaign(api, cid)
    page = context.new_page()
    sign_in(page, server.url, login)
    answer = page.goto(f"{server.url}/console/campaigns/{cid}/room")
    assert answer.status == 404 and "sse-connect" not in page.content()


def test_an_operator_runs_a_draw_and_sees_the_seed_its_hash_committed_to(server, context, login, cid, shots):
    now = datetime.now(UTC).replace(microsecond=0)
    starts = now - timedelta(hours=3)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {login.api_key}"}) as api:
        body = {"id": cid, "title": "Ended live", "market": "SG", "starts_at": iso(starts),
                "ends_at": iso(now - timedelta(hours=1)), "landing_url": "https://shop.example.com/live",
                "rules": [{"id": "grand", "type": "draw", "entry": {"metric": "joins", "at_least": 1}, "winners": 1,
                           "prize": {"kind": "coupon", "amount": "10.00"}}]}
        assert api.post("/v1/campaigns", json=body).status_code == 201
        code = invite(api, cid, "lina")
        assert api.put("/v1/users/lina", json={"market": "SG", "display_name": "Lina"}).status_code in (200, 201)
        joins(api, cid, starts + timedelta(minutes=5), [("lina-friend", code)])
        committed = api.get(f"/v1/campaigns/{cid}/draws/grand").json()["periods"][0]["seed_hash"]

        page = context.new_page()
        errors = watch_errors(page)
        sign_in(page, server.url, login)
        page.click(f"section[data-status=ended] tr[data-campaign='{cid}'] >> text=Draws")
        row = page.locator("section[data-rule=grand] tr[data-period=campaign]")
        assert row.locator("[data-test=seed-hash]").inner_text() == committed
        assert row.locator("td").nth(2).inner_text() == "Ended"
        draws_page = page.url
        # The run button's form carries the session's CSRF token; without it the draw is not run.
        page.evaluate("document.querySelector('form[action$=\"/draws/grand/run\"] input[name=csrf]').remove()")
        with page.expect_response(lambda r: r.url.endswith("/draws/grand/run")) as refused:
            page.click("[data-test=run]")
        assert refused.value.status == 403
        assert api.get(f"/v1/campaigns/{cid}/draws/grand").json()["periods"][0]["result"] is None
        page.goto(draws_page)  # a fresh page, with a fresh form and its token
        page.click("[data-test=run]")
        page.wait_for_url("**/draws?ran=1*")
        assert "Period campaign of draw “grand” was run." in page.locator("[data-test=ran]").inner_text()
        result = api.get(f"/v1/campaigns/{cid}/draws/grand").json()["periods"][0]["result"]
        row = page.locator("section[data-rule=grand] tr[data-period=campaign]")
        assert row.locator("[data-test=winners]").inner_text() == "Lina" and result["winners"] == ["lina"]
        seed = row.locator("[data-test=seed]").inner_text()
        assert seed == result["seed"] and hashlib.sha256(seed.encode()).hexdigest() == committed
        assert "liveloop draw verify" in page.locator("pre").inner_text()
        page.screenshot(path=str(shots / "draws-en.png"), full_page=True)
        assert not errors, errors


def test_the_report_shows_the_funnel_referrers_and_rewards_with_charts(server, chromium, login, cid, shots):
    now = datetime.now(UTC).replace(microsecond=0)
    starts = now - timedelta(hours=3)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {login.api_key}"}) as api:
        body = {"id": cid, "title": "Spring live", "market": "SG", "starts_at": iso(starts),
                "ends_at": iso(now - timedelta(hours=1)), "landing_url": "https://shop.example.com/live",
                "budget": "100.00", "rules": [{"id": "rr", "type": "reservation_referral",
                                              "referrer_reward": {"kind": "coupon", "amount": "5.00"}}]}
        assert api.post("/v1/campaigns", json=body).status_code == 201
        code = invite(api, cid, "nour")
        assert api.put("/v1/users/nour", json={"market": "SG", "display_name": "نور <b>"}).status_code in (200, 201)
        events = [{"id": f"{cid}-res-{i}", "type": "reservation", "campaign_id": cid, "user_id": f"friend{i}",
                   "at": iso(starts - timedelta(hours=1)), "ref": code} for i in range(3)]
        assert api.post("/v1/events", json={"events": events}).json()["accepted"] == 3
        joins(api, cid, starts, [("friend0", code), ("walk-in", None)])
        expected = api.get(f"/v1/campaigns/{cid}/report").json()
    for locale, lang in (("en-US", "en"), ("ar-SA", "ar")):
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch_errors(page)
            sign_in(page, server.url, login)
            page.click(f"section[data-status=ended] tr[data-campaign='{cid}'] >> a[href$='/report']")
            page.wait_for_url(f"**/console/campaigns/{cid}/report")
            assert page.locator("[data-figure=joins]").inner_text() == str(expected["funnel"]["joins"]) == "2"
            assert page.locator("[data-figure=k_factor]").inner_text() == "3.00"  # 3 referred users, 1 inviter
            row = page.locator("#referrers tr[data-user=nour]")
            assert row.locator(".name").inner_text() == "نور <b>" and row.locator("b").count() == 0
            funnel = page.evaluate("Chart.getChart('report-funnel').data.datasets.map(d => d.data)")
            assert funnel == [[expected["referred"][k] for k in ("clicks", "users", "reservations", "joins", "orders")],
                              [expected["organic"][k] for k in ("clicks", "users", "reservations", "joins", "orders")]]
            rewards = page.evaluate("Chart.getChart('report-rewards').data.datasets[0].data")
            assert rewards == [3, 0, 0, 0]  # three coupons available
            if lang == "en":
                assert page.locator("[data-test=budget]").inner_text() == "Budget used: SGD15 of SGD100"
            else:
                assert page.locator("html").get_attribute("dir") == "rtl"
            page.screenshot(path=str(shots / f"report-{lang}.png"), full_page=True)
            assert not errors, errors
        finally:
            context.close()


def test_referrers_sort_by_a_column_and_download_as_csv_with_formulas_defused(server, context, login, cid):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {login.api_key}"}) as api:
        starts = live_campaign(api, cid)
        brought = {"ana": 1, "ben": 3, "cat": 2}
        names = {"ana": "Ana", "ben": '=HYPERLINK("http://evil.example","x")', "cat": "Cat"}
        who = []
        for user, n in brought.items():
            code = invite(api, cid, user)
            assert api.put(f"/v1/users/{user}", json={"market": "SG", "display_name": names[user]}).status_code \
                in (200, 201)
            who += [(f"{user}-f{i}", code) for i in range(n)]
        joins(api, cid, starts, who)
    page = context.new_page()
    sign_in(page, server.url, login)
    page.click(f"tr[data-campaign='{cid}'] >> a[href$='/referrers']")
    users = page.locator("#referrers tr")
    assert [users.nth(i).get_attribute("data-user") for i in range(3)] == ["ben", "cat", "ana"]  # by rank
    page.click("a[data-sort=display_name]")  # A to Z: "=HYPERLINK..." sorts first
    assert [users.nth(i).get_attribute("data-user") for i in range(3)] == ["ben", "ana", "cat"]
    page.click("a[data-sort=display_name]")  # and back
    assert [users.nth(i).get_attribute("data-user") for i in range(3)] == ["cat", "ana", "ben"]
    page.click("a[data-sort=joins]")  # most first
    assert page.locator("th[aria-sort=descending] a").get_attribute("data-sort") == "joins"
    assert [users.nth(i).get_attribute("data-user") for i in range(3)] == ["ben", "cat", "ana"]
    with page.expect_download() as download:
        page.click("[data-test=csv]")
    text = Path(download.value.path()).read_text("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0] == "rank,user_id,display_name,clicks,referees,joins,reservations,orders,gmv,rewards,currency"
    assert lines[1].startswith('1,ben,"\'=HYPERLINK(""http://evil.example"",""x"")",0,3,3,')  # text, not a formula
    assert len(lines) == 4


def test_referrers_page_fifty_at_a_time_with_next_and_previous(server, chromium, login, cid, shots):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {login.api_key}"}) as api:
        starts = live_campaign(api, cid)
        # 53 referrers; r00 brought 3 friends, r01 2, the others 1 each: by rank r00, r01, then by user id.
        brought = {f"r{n:02d}": 3 if n == 0 else 2 if n == 1 else 1 for n in range(53)}
        who = []
        for user, n in brought.items():
            code = invite(api, cid, user)
            who += [(f"{user}-f{i}", code) for i in range(n)]
        joins(api, cid, starts, who)
    order = list(brought)
    for lang, previous_text in (("en-US", "Previous"), ("ar-SA", "السابق")):
        context = chromium.new_context(locale=lang, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch_errors(page)
            sign_in(page, server.url, login)
            page.goto(f"{server.url}/console/campaigns/{cid}/referrers")
            rows = page.locator("#referrers tr")

            def shown(rows=rows) -> list[str]:
                return rows.evaluate_all("rs => rs.map(r => r.dataset.user)")

            assert shown() == order[:50]
            assert page.locator("[data-test=previous]").count() == 0
            page.click("[data-test=next]")
            page.wait_for_url("**/referrers?*cursor=*")
            assert shown() == order[50:]
            assert page.locator("[data-test=next]").count() == 0
            assert previous_text in page.locator("[data-test=previous]").inner_text()
            page.screenshot(path=str(shots / f"referrers-page2-{lang[:2]}.png"), full_page=True)
            page.click("[data-test=previous]")
            page.wait_for_url("**/referrers?*before=*")
            assert shown() == order[:50]
            # The sort is kept from page to page: most joins first, ties by user id, the same way.
            page.click("a[data-sort=joins]")
            page.click("[data-test=next]")
            page.wait_for_url("**/referrers?*sort=joins*cursor=*")
            assert shown() == sorted(order[2:], reverse=True)[48:]
            assert not errors, errors
        finally:
            context.close()
