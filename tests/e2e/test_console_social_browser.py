"""The console's review queue, the host's question queue in the room view, and the group buys and
circles page, in a real headless Chromium against the real server (SQLite, and PostgreSQL + Redis when
configured), in English and Arabic. Screenshots go where test_console_browser.py puts them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.e2e.helpers import before_start, campaign, during, event, invite, post_ok, send
from tests.e2e.test_console_browser import chromium, login, shots, sign_in, watch_errors  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

HOSTILE = "<img src=x onerror=alert(1)>"
RULES = [
    {"id": "rr", "type": "reservation_referral",
     "referrer_reward": {"kind": "coupon", "amount": "2.00"}, "referee_reward": {"kind": "coupon", "amount": "1.00"}},
]
PRIORITY = {"id": "vip", "type": "milestone", "metric": "joins",
            "tiers": [{"at": 1, "reward": {"kind": "privilege", "name": "priority_question"}}]}
SKU = "WOK-28CM"
GROUP_RULE = {"id": "pintuan", "type": "group_buy", "sku": SKU, "group_size": 3, "window_minutes": 30,
              "reward": {"kind": "coupon", "amount": "4.00"}}


def _u(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _held_reviews(api, cid: str) -> tuple[str, list[str], str]:
    """A farmer's invite used by three accounts on one device: three open reviews of rising risk."""
    post_ok(api, "/v1/campaigns", campaign(cid, title="Farm <night>", rules=RULES, budget="100.00",
                                           fraud={"review_at": 50, "decline_at": 101}))
    owner, device = _u("farmer"), _u("dev")
    assert api.put(f"/v1/users/{owner}", json={"market": "US", "display_name": HOSTILE}).status_code in (200, 201)
    code = invite(api, cid, owner)
    farmed = [_u("acct") for _ in range(3)]
    send(api, [event("o", "click", cid, owner, before_start(90), device_id=device)]
         + [event(f"a{i}", "reservation", cid, f, before_start(80 - i), code, device_id=device)
            for i, f in enumerate(farmed)])
    return owner, farmed, device


def test_an_operator_decides_reviews_one_at_a_time_and_in_bulk(server, chromium, login, cid, shots):  # noqa: F811
    with server.client(login.api_key) as api:
        owner, farmed, device = _held_reviews(api, cid)
        opened = api.get(f"/v1/campaigns/{cid}/reviews").json()["reviews"]
    assert len(opened) == 3
    by_risk = [r["id"] for r in opened]  # the API's order: highest risk first

    # Arabic first, while all three are open: right to left, the names as text.
    context = chromium.new_context(locale="ar-SA", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = watch_errors(page)
        sign_in(page, server.url, login)
        page.goto(f"{server.url}/console/campaigns/{cid}/reviews")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("h1").inner_text().startswith("قائمة المراجعة")
        expect(page.locator("[data-test=reviews] tbody tr")).to_have_count(3)
        # The signals in Arabic, the device id kept in its own direction.
        farm = page.locator("[data-test=reviews] tbody tr").first.locator("[data-signal=device_farm]").inner_text()
        assert farm.startswith("جهاز لحسابات كثيرة") and f"\u2068{device}\u2069" in farm, farm
        page.screenshot(path=str(shots / "reviews-ar.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()

    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = watch_errors(page)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(page, server.url, login)
        page.click(f"tr[data-campaign='{cid}'] >> a[href$='/reviews']")
        page.wait_for_url(f"**/console/campaigns/{cid}/reviews")
        rows = page.locator("[data-test=reviews] tbody tr")
        # Highest risk first, each with its signals' details and the rewards it holds.
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.review)") == by_risk
        risks = [int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.risk)")]
        assert risks == sorted(risks, reverse=True) and risks[0] > risks[-1]
        top = rows.nth(0)
        signals = top.locator("[data-signal]")
        assert set(signals.evaluate_all("ls => ls.map(l => l.dataset.signal)")) >= {"same_device", "device_farm"}
        farm = top.locator("[data-signal=device_farm]").inner_text()
        assert farm.startswith("Device farm") and "is used by" in farm
        assert "2 held" in top.locator("[data-test=held]").inner_text()
        assert top.locator("bdi.name").first.inner_text() == HOSTILE and top.locator("img").count() == 0
        page.screenshot(path=str(shots / "reviews-en.png"), full_page=True)

        # A form without its CSRF token decides nothing.
        page.evaluate("document.querySelector('[data-test=reviews-form] input[name=csrf]').remove()")
        with page.expect_response(f"**/console/campaigns/{cid}/reviews/decisions") as answer:
            top.locator("[data-test=deny]").click()
        assert answer.value.status == 403
        page.goto(f"{server.url}/console/campaigns/{cid}/reviews")

        # A bulk decision with nothing checked is refused on the page.
        with page.expect_response(f"**/console/campaigns/{cid}/reviews/decisions") as answer:
            page.click("[data-test=bulk-approve]")
        assert answer.value.status == 422
        assert "Select at least one review" in page.locator("[data-test=errors]").inner_text()

        # One denied with a note, from its row.
        page.fill("input[name=note]", "same phone <b>")
        page.locator(f"tr[data-review={by_risk[0]}] [data-test=deny]").click()
        page.wait_for_url("**/reviews?decided=1")
        assert "1 review(s) decided" in page.locator("[data-test=decided]").inner_text()
        expect(rows).to_have_count(2)

        # The other two, checked and approved together.
        for rid in by_risk[1:]:
            page.check(f"tr[data-review={rid}] input[name=id]")
        page.click("[data-test=bulk-approve]")
        page.wait_for_url("**/reviews?decided=2")
        expect(page.locator("[data-test=empty]")).to_be_visible()

        # Decided ones are filterable, with who decided and the note, as text.
        page.click("a[data-status=denied]")
        denied = page.locator("[data-test=reviews] tbody tr")
        expect(denied).to_have_count(1)
        assert denied.get_attribute("data-review") == by_risk[0]
        assert denied.locator("bdi.note").inner_text() == "same phone <b>" and denied.locator("b").count() == 0
        assert "operator:" in denied.inner_text()
        page.click("a[data-status=approved]")
        expect(page.locator("[data-test=reviews] tbody tr")).to_have_count(2)
        assert not errors and not dialogs, (errors, dialogs)
    finally:
        context.close()

    with server.client(login.api_key) as api:
        denied = api.get(f"/v1/campaigns/{cid}/reviews", params={"status": "denied"}).json()["reviews"]
        assert [(r["id"], r["note"]) for r in denied] == [(by_risk[0], "same phone <b>")]
        assert denied[0]["decided_by"].startswith("operator:op")
        assert len(api.get(f"/v1/campaigns/{cid}/reviews", params={"status": "approved"}).json()["reviews"]) == 2
        audit = api.get("/v1/audit", params={"limit": 50}).json()["entries"]
    decided = [e for e in audit if e["action"] == "review.decide"]
    assert len(decided) == 2  # one entry per form post that decided
    assert all(e["actor"] == denied[0]["decided_by"] and cid in (e["target"] or "") for e in decided)


def test_the_room_view_shows_the_hosts_question_queue_and_marks_answers(server, chromium, login, cid, shots):  # noqa: F811
    with server.client(login.api_key) as api:
        post_ok(api, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[PRIORITY]))
        code = invite(api, cid, "ana")
        send(api, [event("f1", "room_join", cid, "friend1", during(3), ref=code)])  # ana earns priority_question
        assert api.put("/v1/users/budi", json={"market": "US", "display_name": HOSTILE}).status_code in (200, 201)
        post_ok(api, f"/v1/campaigns/{cid}/questions", {"user_id": "budi", "text": "Is it <b>dishwasher</b> safe?"})
        asked = post_ok(api, f"/v1/campaigns/{cid}/questions", {"user_id": "ana", "text": "Which sizes?"})
        assert asked["priority"] is True
        for locale, lang in (("en-US", "en"), ("ar-SA", "ar")):
            context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
            try:
                page = context.new_page()
                errors = watch_errors(page)
                sign_in(page, server.url, login)
                page.goto(f"{server.url}/console/campaigns/{cid}/room")
                items = page.locator("[data-test=questions] li")
                if lang == "ar":
                    assert page.locator("html").get_attribute("dir") == "rtl"
                    assert "أسئلة للمضيف" in page.locator("#questions h2").inner_text()
                    page.screenshot(path=str(shots / "room-questions-ar.png"), full_page=True)
                    assert not errors, errors
                    continue
                # Priority holders first, then by time; every text as text.
                assert items.evaluate_all("ls => ls.map(l => l.dataset.question)")[0] == asked["id"]
                assert items.nth(0).locator("[data-test=priority]").count() == 1
                assert items.nth(1).locator("bdi.text").inner_text() == "Is it <b>dishwasher</b> safe?"
                assert items.nth(1).locator("bdi.name").inner_text() == HOSTILE
                assert page.locator("#questions b, #questions img").count() == 0
                # A new question reaches the page at its next poll, without a reload.
                page.evaluate("window.__same_page = true")
                post_ok(api, f"/v1/campaigns/{cid}/questions", {"user_id": "chen", "text": "Ship to Penang?"})
                expect(items).to_have_count(3, timeout=12_000)
                assert page.locator("[data-test=questions-count]").inner_text() == "3"
                page.screenshot(path=str(shots / "room-questions-en.png"), full_page=True)
                # Answered: it leaves the queue at once, and the API has it answered.
                items.nth(0).locator("[data-test=answered]").click()
                expect(items).to_have_count(2)
                assert page.evaluate("window.__same_page") is True
                answered = api.get(f"/v1/campaigns/{cid}/questions", params={"status": "answered"}).json()
                assert [q["id"] for q in answered["questions"]] == [asked["id"]]
                assert not errors, errors
            finally:
                context.close()


def test_the_groups_and_circles_page_lists_group_buys_and_circles(server, chromium, login, cid, shots):  # noqa: F811
    with server.client(login.api_key) as api:
        post_ok(api, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[GROUP_RULE],
                                               max_circle_size=4))
        group = post_ok(api, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": "lin"})
        order = {"id": f"{cid}-o1", "amount": "19.90", "currency": "USD", "sku": SKU, "group_id": group["id"]}
        send(api, [event("pay1", "order_paid", cid, "lin", datetime.now(UTC), order=order)])
        post_ok(api, f"/v1/campaigns/{cid}/circles", {"id": "fam", "owner": "amina", "name": "Family <b>"})
        post_ok(api, f"/v1/campaigns/{cid}/circles/fam/members", {"user_id": "bilal"})
        post_ok(api, f"/v1/campaigns/{cid}/circles", {"id": "solo", "owner": "dana", "name": "Dana"})
        code = invite(api, cid, "dana")
        send(api, [event("j1", "room_join", cid, "friend1", during(3), ref=code)])  # dana's circle scores 1
        circles = {c: api.get(f"/v1/campaigns/{cid}/circles/{c}").json() for c in ("fam", "solo")}
    for locale, lang in (("en-US", "en"), ("ar-SA", "ar")):
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch_errors(page)
            sign_in(page, server.url, login)
            page.click(f"tr[data-campaign='{cid}'] >> a[href$='/social']")
            page.wait_for_url(f"**/console/campaigns/{cid}/social")
            row = page.locator(f"tr[data-group={group['id']}]")
            assert row.get_attribute("data-status") == "open"
            assert row.locator("[data-test=members]").inner_text() == "1 / 3"
            circle_rows = page.locator("[data-test=circles] tbody tr")
            # Highest score first, as the API scores them.
            assert circle_rows.evaluate_all("rs => rs.map(r => r.dataset.circle)") == ["solo", "fam"]
            assert circle_rows.nth(0).locator("[data-test=score]").inner_text() == str(circles["solo"]["score"])
            fam = page.locator("tr[data-circle=fam]")
            assert fam.locator("[data-test=members]").inner_text() == "2 / 4"
            assert fam.locator("bdi.name").first.inner_text() == "Family <b>" and fam.locator("bdi.name b").count() == 0
            if lang == "en":
                assert row.locator("[data-test=status]").inner_text() == "Open"
            else:
                assert page.locator("html").get_attribute("dir") == "rtl"
                assert row.locator("[data-test=status]").inner_text() == "مفتوحة"
            page.screenshot(path=str(shots / f"social-{lang}.png"), full_page=True)
            assert not errors, errors
        finally:
            context.close()


def test_a_long_review_queue_is_paged_forward_and_back(server, chromium, login, cid, shots):  # noqa: F811
    """More open reviews than a page holds (50): the first page, *Next* to the rest, *Previous* back; a
    decision taken on the second page comes back to the second page."""
    with server.client(login.api_key) as api:
        post_ok(api, "/v1/campaigns", campaign(cid, title="Farm", rules=RULES, budget="1000.00",
                                               fraud={"review_at": 50, "decline_at": 101}))
        owner, device = _u("farmer"), _u("dev")
        code = invite(api, cid, owner)
        send(api, [event("o", "click", cid, owner, before_start(200), device_id=device)]
             + [event(f"a{i}", "reservation", cid, _u("acct"), before_start(180 - 2 * i), code, device_id=device)
                for i in range(53)])
        queue, cursor = [], None
        while True:  # the API's own order, a page at a time
            params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
            got = api.get(f"/v1/campaigns/{cid}/reviews", params=params)
            queue += [r["id"] for r in got.json()["reviews"]]
            cursor = got.json()["next_cursor"]
            if cursor is None:
                break
    assert len(queue) == 53
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = watch_errors(page)
        sign_in(page, server.url, login)
        page.goto(f"{server.url}/console/campaigns/{cid}/reviews")
        rows = page.locator("[data-test=reviews] tbody tr")

        def shown() -> list[str]:
            return rows.evaluate_all("rs => rs.map(r => r.dataset.review)")

        assert shown() == queue[:50]
        assert page.locator("[data-test=previous]").count() == 0
        page.click("[data-test=next]")
        page.wait_for_url("**/reviews?cursor=*")
        assert shown() == queue[50:]
        assert page.locator("[data-test=next]").count() == 0
        page.screenshot(path=str(shots / "reviews-page2-en.png"), full_page=True)
        page.click("[data-test=previous]")
        page.wait_for_url("**/reviews?before=*")
        assert shown() == queue[:50]
        assert page.locator("[data-test=previous]").count() == 0
        page.click("[data-test=next]")
        page.wait_for_url("**/reviews?cursor=*")
        page.check(f"tr[data-review={queue[51]}] input[name=id]")
        page.click("[data-test=bulk-approve]")
        page.wait_for_url("**/reviews?decided=1&cursor=*")
        assert shown() == [queue[50], queue[52]]  # still the second page, without the one approved
        assert not errors, errors
    finally:
        context.close()
    context = chromium.new_context(locale="ar-SA", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, server.url, login)
        page.goto(f"{server.url}/console/campaigns/{cid}/reviews")
        page.click("[data-test=next]")
        page.wait_for_url("**/reviews?cursor=*")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("[data-test=previous]").inner_text() == "‹ السابق"
        page.screenshot(path=str(shots / "reviews-page2-ar.png"), full_page=True)
    finally:
        context.close()


def test_the_room_view_pages_a_long_question_queue(server, chromium, login, cid, shots):  # noqa: F811
    """More open questions than the room view lists (20): *Next* and *Previous* swap the block in place, the
    page it shows stays while it is polled, and a question answered there leaves that page."""
    with server.client(login.api_key) as api:
        post_ok(api, "/v1/campaigns", campaign(cid))
        for i in range(23):
            post_ok(api, f"/v1/campaigns/{cid}/questions", {"user_id": f"v{i}", "text": f"Question {i}"})
        asked = [q["id"] for q in api.get(f"/v1/campaigns/{cid}/questions").json()["questions"]]  # the queue's order
    assert len(asked) == 23
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = watch_errors(page)
        sign_in(page, server.url, login)
        page.goto(f"{server.url}/console/campaigns/{cid}/room")
        items = page.locator("[data-test=questions] li")

        def shown() -> list[str]:
            return items.evaluate_all("ls => ls.map(l => l.dataset.question)")

        assert shown() == asked[:20]
        assert page.locator("[data-test=questions-count]").inner_text() == "23"
        page.evaluate("window.__same_page = true")
        page.click("#questions [data-test=next]")
        expect(items).to_have_count(3)
        assert shown() == asked[20:]
        # The block is read again every 5 s: it stays on the page the operator is on.
        with page.expect_response(lambda r: "/questions?cursor=" in r.url, timeout=12_000):
            pass
        assert shown() == asked[20:]
        items.nth(0).locator("[data-test=answered]").click()
        expect(items).to_have_count(2)
        assert shown() == asked[21:] and page.locator("[data-test=questions-count]").inner_text() == "22"
        page.locator("#questions").screenshot(path=str(shots / "room-questions-page2-en.png"))
        page.click("#questions [data-test=previous]")
        expect(items).to_have_count(20)
        assert shown() == asked[:20] and page.locator("#questions [data-test=previous]").count() == 0
        assert page.evaluate("window.__same_page") is True
        # Without script the links lead to the room view at that page.
        page.goto(server.url + page.locator("#questions [data-test=next]").get_attribute("href"))
        assert shown() == asked[21:]
        assert not errors, errors
    finally:
        context.close()


def test_groups_and_circles_page_fifty_at_a_time_each_on_its_own(server, chromium, login, cid, shots):  # noqa: F811
    with server.client(login.api_key) as api:
        post_ok(api, "/v1/campaigns", campaign(cid, leaderboard={"metric": "joins"}, rules=[GROUP_RULE],
                                               max_circle_size=4))
        groups = {post_ok(api, f"/v1/campaigns/{cid}/groups", {"rule_id": "pintuan", "user_id": f"lead{n}"})["id"]
                  for n in range(51)}
        circles = [f"c{n:02d}" for n in range(52)]  # all score 0: oldest first, then by id
        for c in circles:
            post_ok(api, f"/v1/campaigns/{cid}/circles", {"id": c, "owner": f"own-{c}", "name": c})
    for locale, lang in (("en-US", "en"), ("ar-SA", "ar")):
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch_errors(page)
            sign_in(page, server.url, login)
            page.goto(f"{server.url}/console/campaigns/{cid}/social")
            group_rows = page.locator("[data-test=groups] tbody tr")
            circle_rows = page.locator("[data-test=circles] tbody tr")

            def shown(rows, attr: str) -> list[str]:
                return rows.evaluate_all(f"rs => rs.map(r => r.dataset.{attr})")

            first_groups = shown(group_rows, "group")
            assert len(first_groups) == 50 and shown(circle_rows, "circle") == circles[:50]
            assert page.locator("[data-test=groups] .count").inner_text() == "51"
            page.click("[data-test=groups] [data-test=next]")
            page.wait_for_url("**/social?groups_cursor=*")
            assert set(shown(group_rows, "group")) | set(first_groups) == groups
            assert len(shown(group_rows, "group")) == 1
            # The circles' pager keeps the groups' page: each list moves on its own.
            page.click("[data-test=circles] [data-test=next]")
            page.wait_for_url("**/social?groups_cursor=*&circles_cursor=*")
            assert len(shown(group_rows, "group")) == 1 and shown(circle_rows, "circle") == circles[50:]
            assert page.locator("[data-test=circles] [data-test=next]").count() == 0
            page.screenshot(path=str(shots / f"social-page2-{lang}.png"), full_page=True)
            page.click("[data-test=circles] [data-test=previous]")
            page.wait_for_url("**/social?groups_cursor=*&circles_before=*")
            assert shown(circle_rows, "circle") == circles[:50]
            if lang == "ar":
                assert page.locator("html").get_attribute("dir") == "rtl"
            assert not errors, errors
        finally:
            context.close()
