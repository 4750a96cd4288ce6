"""The console's webhook, delivery, clips and after-the-live pages, and viewers in the room, in a real
headless Chromium against a server that may send webhooks to the loopback (SQLite, and PostgreSQL +
Redis when configured). Screenshots go where test_console_browser.py puts them."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.console_helpers import new_login
from tests.e2e.helpers import invite, iso, send
from tests.e2e.test_console_browser import chromium, shots, sign_in, watch_errors  # noqa: F401 - fixtures
from tests.receiver import Behaviour, Receiver
from tests.support import Server, create_tenant, fresh_postgres_database

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

ENV = {"LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true", "LIVELOOP_WEBHOOKS_POLL_SECONDS": "0.2",
       "LIVELOOP_SCHEDULER_POLL_SECONDS": "0.2"}


def _serve(url: str, env: dict, tmp_path_factory):
    create_tenant(url, "bootstrap")  # migrates the database before the server starts
    server = Server(url, log_path=tmp_path_factory.mktemp("log") / "server.log", env={**ENV, **env})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def hooks_server(request, tmp_path_factory):
    if request.param == "sqlite":
        yield from _serve(f"sqlite:///{tmp_path_factory.mktemp('pages') / 'liveloop.db'}", {}, tmp_path_factory)
        return
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL")
    if not base:
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not set")
    redis_url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    with fresh_postgres_database(base) as url:
        yield from _serve(url, {"LIVELOOP_REDIS_URL": redis_url} if redis_url else {}, tmp_path_factory)


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as r:
        yield r


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def api_client(server: Server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_an_operator_adds_a_webhook_endpoint_retries_a_delivery_rotates_and_disables_it(
        hooks_server, chromium, receiver, cid, shots):  # noqa: F811 - the fixture
    server = hooks_server
    login = new_login(server.database_url)
    path = f"/hooks/{cid}"
    receiver.behaviour[path] = Behaviour(statuses=[500])  # the first attempt fails, then 200
    hostile = "<img src=x onerror=alert(1)>"
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = watch_errors(page)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(page, server.url, login)
        page.click("nav.main >> text=Webhooks")
        page.wait_for_url("**/console/webhooks")
        assert page.locator("h1").inner_text() == "Webhook endpoints"

        # A URL the API refuses is refused on the form, in the API's words, on its field.
        page.fill("input[name=url]", "ftp://shop.example.com/hooks")
        with page.expect_response("**/console/webhooks") as answer:
            page.click("[data-test=add]")
        assert answer.value.status == 422
        assert "url must be an http or https URL" in page.locator("[data-field=url]").inner_text()
        assert page.locator("input[name=url]").get_attribute("aria-invalid") == "true"

        page.fill("input[name=url]", receiver.url(path))
        page.fill("input[name=description]", hostile)
        page.check("input[name=events][value='referral.attributed']")
        page.check("input[name=events][value='campaign.ended']")
        page.click("[data-test=add]")
        first_secret = page.locator("[data-test=secret-value]").inner_text()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{32,}", first_secret)
        with api_client(server, login.api_key) as api:
            [endpoint] = api.get("/v1/webhook-endpoints").json()["endpoints"]
        assert endpoint["url"] == receiver.url(path) and endpoint["description"] == hostile
        assert endpoint["events"] == ["campaign.ended", "referral.attributed"]
        row = page.locator(f"tr[data-endpoint={endpoint['id']}]")
        assert hostile in row.inner_text() and row.locator("img").count() == 0 and not dialogs
        page.screenshot(path=str(shots / "webhooks-en.png"), full_page=True)

        # A referral makes a message; its first attempt gets a 500 and waits for its retry.
        with api_client(server, login.api_key) as api:
            starts = now() - timedelta(minutes=10)
            body = {"id": cid, "title": "Hooks live", "market": "SG", "starts_at": iso(starts),
                    "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live"}
            assert api.post("/v1/campaigns", json=body).status_code == 201
            code = invite(api, cid, "amira")
            send(api, [{"id": f"{cid}-r1", "type": "reservation", "campaign_id": cid, "user_id": "friend1",
                        "at": iso(starts), "ref": code}])
        receiver.wait_for(path, lambda got: len(got) >= 1)
        message_id = receiver.at(path)[0].headers["webhook-id"]

        page.click(f"tr[data-endpoint={endpoint['id']}] [data-test=deliveries]")
        page.wait_for_url(f"**/console/webhooks/{endpoint['id']}/deliveries")
        expect(page.locator(f"tr[data-message={message_id}]")).to_have_attribute("data-status", "pending")
        page.click("a[data-status=succeeded]")
        expect(page.locator(f"tr[data-message={message_id}]")).to_have_count(0)
        page.click("a[data-status=pending]")
        row = page.locator(f"tr[data-message={message_id}]")
        assert "500" in row.inner_text()
        page.screenshot(path=str(shots / "deliveries-en.png"), full_page=True)
        row.locator(f"a[href$='{message_id}']").click()
        page.wait_for_url(f"**/deliveries/{message_id}")
        attempts = page.locator("[data-test=attempts] tbody tr")
        expect(attempts).to_have_count(1)
        assert "500" in attempts.nth(0).inner_text()
        assert '"type": "referral.attributed"' in page.locator("[data-test=body]").inner_text()

        # Sent again now (not 5 s later): the receiver has it at once and the page shows it delivered.
        asked = time.monotonic()
        page.click("section >> [data-test=retry]")
        page.wait_for_url(f"**/deliveries/{message_id}?retried=1")
        got = receiver.wait_for(path, lambda got: len(got) >= 2, timeout=4)
        assert got[1].headers["webhook-id"] == message_id and got[1].at - asked < 4
        deadline = time.monotonic() + 10
        while page.locator("[data-test=status]").inner_text() != "Delivered" and time.monotonic() < deadline:
            time.sleep(0.3)
            page.reload()
        assert page.locator("[data-test=status]").inner_text() == "Delivered"
        expect(page.locator("[data-test=attempts] tbody tr")).to_have_count(2)
        page.screenshot(path=str(shots / "delivery-en.png"), full_page=True)

        # A rotation shows the new secret once; messages are signed with both for a day.
        page.goto(server.url + "/console/webhooks")
        page.click(f"tr[data-endpoint={endpoint['id']}] [data-test=rotate]")
        second_secret = page.locator("[data-test=secret-value]").inner_text()
        assert second_secret.startswith("whsec_") and second_secret != first_secret
        assert "previous secret" in page.locator("[data-test=secret]").inner_text()

        # A form posted without its CSRF token changes nothing.
        page.evaluate("document.querySelectorAll('form[action$=\"/delete\"] input[name=csrf]')"
                      ".forEach(e => e.remove())")
        with page.expect_response(f"**/console/webhooks/{endpoint['id']}/delete") as answer:
            page.click(f"tr[data-endpoint={endpoint['id']}] [data-test=delete]")
        assert answer.value.status == 403
        with api_client(server, login.api_key) as api:
            assert len(api.get("/v1/webhook-endpoints").json()["endpoints"]) == 1

        page.goto(server.url + "/console/webhooks")
        page.click(f"tr[data-endpoint={endpoint['id']}] [data-test=delete]")
        page.wait_for_url("**/console/webhooks?deleted=1")
        assert page.locator(f"tr[data-endpoint={endpoint['id']}]").count() == 0
        with api_client(server, login.api_key) as api:
            assert api.get("/v1/webhook-endpoints").json()["endpoints"] == []
        assert not errors, errors
    finally:
        context.close()


def test_the_webhook_pages_read_right_to_left_in_arabic(hooks_server, chromium, receiver, cid, shots):  # noqa: F811
    server = hooks_server
    login = new_login(server.database_url)
    path = f"/hooks/{cid}"
    receiver.behaviour[path] = Behaviour(statuses=[503] * 8)  # every attempt fails for now
    with api_client(server, login.api_key) as api:
        created = api.post("/v1/webhook-endpoints", json={"url": receiver.url(path), "description": "متجر"})
        assert created.status_code == 201, created.text
        endpoint_id = created.json()["id"]
        starts = now() - timedelta(minutes=10)
        body = {"id": cid, "title": "ليلة رمضان", "market": "SA", "starts_at": iso(starts),
                "ends_at": iso(starts + timedelta(hours=2)), "landing_url": "https://shop.example.com/live"}
        assert api.post("/v1/campaigns", json=body).status_code == 201, "campaign"
        code = invite(api, cid, "nour")
        send(api, [{"id": f"{cid}-r1", "type": "reservation", "campaign_id": cid, "user_id": "f1", "at": iso(starts),
                    "ref": code}])
    receiver.wait_for(path, lambda got: len(got) >= 1)
    context = chromium.new_context(locale="ar-SA", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = watch_errors(page)
        sign_in(page, server.url, login)
        page.goto(server.url + "/console/webhooks")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("h1").inner_text() == "نقاط استقبال الويب هوك"
        # The URL stays left to right inside the right-to-left page.
        assert page.locator(f"tr[data-endpoint={endpoint_id}] bdi.url").evaluate(
            "e => getComputedStyle(e).direction") == "ltr"
        page.screenshot(path=str(shots / "webhooks-ar.png"), full_page=True)
        page.goto(f"{server.url}/console/webhooks/{endpoint_id}/deliveries")
        expect(page.locator("tbody tr")).to_have_count(1)
        assert "قيد الانتظار" in page.locator("tbody tr").inner_text()
        page.screenshot(path=str(shots / "deliveries-ar.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()


def test_clips_are_added_on_the_form_and_the_sharers_reports_show_once_sent(hooks_server, chromium, cid, shots):  # noqa: F811
    server = hooks_server
    login = new_login(server.database_url)
    with api_client(server, login.api_key) as api:
        body = {"id": cid, "title": "Spring <live>", "market": "SG", "starts_at": iso(now() - timedelta(hours=2)),
                "ends_at": iso(now() + timedelta(seconds=6)), "landing_url": "https://shop.example.com/live",
                "report_delay_minutes": 0}
        assert api.post("/v1/campaigns", json=body).status_code == 201
        code = invite(api, cid, "siti")
        assert api.put("/v1/users/siti", json={"market": "SG", "display_name": "Siti <b>"}).status_code in (200, 201)
        assert httpx.get(f"{server.url}/s/{code}", follow_redirects=False).status_code == 302
        invite(api, cid, "rudi")  # a link nobody opened: no report
    for locale, lang in (("en-US", "en"), ("ar-SA", "ar")):
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch_errors(page)
            sign_in(page, server.url, login)
            page.click(f"tr[data-campaign='{cid}'] >> a[href$='/clips']")
            page.wait_for_url(f"**/console/campaigns/{cid}/clips")
            if lang == "en":
                assert page.locator("[data-test=campaign-status]").inner_text() == "Live now"
                assert "Not yet due (1 sharers so far)" in page.locator("[data-test=reports-sent]").inner_text()
                # The API's refusal, on its field; then the clip is added.
                page.fill("input[name=id]", "highlights")
                page.fill("input[name=title]", "Best <moments>")
                page.fill("input[name=url]", "http://shop.example.com/replays/spring")
                with page.expect_response(f"**/console/campaigns/{cid}/clips") as answer:
                    page.click("[data-test=add-clip]")
                assert answer.value.status == 422
                assert "https" in page.locator("[data-field=url]").inner_text()
                assert page.locator("input[name=title]").input_value() == "Best <moments>"
                page.fill("input[name=url]", "https://shop.example.com/replays/spring")
                page.click("[data-test=add-clip]")
                page.wait_for_url(f"**/console/campaigns/{cid}/clips?added=highlights")
                with api_client(server, login.api_key) as api:
                    [clip] = api.get(f"/v1/campaigns/{cid}/clips").json()["clips"]
                assert clip["title"] == "Best <moments>"
                row = page.locator("tr[data-clip=highlights]")
                assert row.locator(".title").inner_text() == "Best <moments>"
                # Once the live has ended and the report is due, the page shows it sent, with the thank-you page.
                deadline = time.monotonic() + 30
                while "Sent to 1 of 1" not in page.locator("[data-test=reports-sent]").inner_text():
                    assert time.monotonic() < deadline, page.locator("[data-test=reports-sent]").inner_text()
                    time.sleep(0.5)
                    page.reload()
                assert page.locator("[data-test=campaign-status]").inner_text() == "Ended"
                sharer = page.locator("[data-test=sharers] tr[data-user=siti]")
                assert sharer.locator(".name").inner_text() == "Siti <b>" and sharer.locator("b").count() == 0
                assert page.locator("[data-test=sharers] tr[data-user=rudi]").count() == 0
                thanks = sharer.locator("[data-test=thank-you]").get_attribute("href")
                answer = httpx.get(thanks)
                assert answer.status_code == 200 and "Best &lt;moments&gt;" in answer.text
            else:
                assert page.locator("html").get_attribute("dir") == "rtl"
                assert page.locator("[data-test=campaign-status]").inner_text() == "منتهية"
                assert "أُرسلت إلى 1 من 1" in page.locator("[data-test=reports-sent]").inner_text()
            page.screenshot(path=str(shots / f"clips-{lang}.png"), full_page=True)
            assert not errors, errors
        finally:
            context.close()


def test_the_room_view_lists_the_viewers_in_the_room(hooks_server, chromium, cid):  # noqa: F811
    server = hooks_server
    login = new_login(server.database_url)
    starts = now() - timedelta(minutes=30)
    with api_client(server, login.api_key) as api:
        body = {"id": cid, "title": "Room", "market": "SG", "starts_at": iso(starts),
                "ends_at": iso(starts + timedelta(hours=3)), "landing_url": "https://shop.example.com/live"}
        assert api.post("/v1/campaigns", json=body).status_code == 201
        for user, name in (("lin", "Lin"), ("max", "<i>Max</i>")):
            assert api.put(f"/v1/users/{user}", json={"market": "SG", "display_name": name}).status_code in (200, 201)
        send(api, [{"id": f"{cid}-{u}-in", "type": "room_join", "campaign_id": cid, "user_id": u,
                    "at": iso(now() - timedelta(minutes=1))} for u in ("lin", "max", "noname")])
        context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch_errors(page)
            sign_in(page, server.url, login)
            page.goto(f"{server.url}/console/campaigns/{cid}/room")
            assert page.locator("[data-test=viewers-count]").inner_text() == "3"
            names = page.locator("[data-test=viewers] li").all_inner_texts()
            assert names == ["Lin", "<i>Max</i>", "noname"]  # by user id, names as text
            assert page.locator("[data-test=viewers] i").count() == 0
            # A leave reaches the page at its next poll (every 5 s), without a reload.
            page.evaluate("window.__same_page = true")
            send(api, [{"id": f"{cid}-max-out", "type": "room_leave", "campaign_id": cid, "user_id": "max",
                        "at": iso(now())}])
            expect(page.locator("[data-test=viewers-count]")).to_have_text("2", timeout=12_000)
            assert page.locator("[data-test=viewers] li").all_inner_texts() == ["Lin", "noname"]
            assert page.evaluate("window.__same_page") is True
            assert not errors, errors
        finally:
            context.close()


def test_the_campaign_list_is_the_apis_pages_with_cancelled_campaigns_apart(hooks_server, chromium, cid):  # noqa: F811
    server = hooks_server
    login = new_login(server.database_url)
    starts = now() + timedelta(days=2)
    with api_client(server, login.api_key) as api:
        for i in range(52):
            body = {"id": f"{cid}-{i:02d}", "title": f"Later {i}", "market": "SG",
                    "starts_at": iso(starts + timedelta(minutes=i)), "ends_at": iso(starts + timedelta(hours=3)),
                    "landing_url": "https://shop.example.com/live"}
            assert api.post("/v1/campaigns", json=body).status_code == 201
        assert api.post(f"/v1/campaigns/{cid}-00/cancel").json()["status"] == "cancelled"
        api_first = [c["id"] for c in api.get("/v1/campaigns", params={"status": "scheduled"}).json()["campaigns"]]
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, server.url, login)
        scheduled = page.locator("section[data-status=scheduled] tbody tr")
        # The first page as GET /v1/campaigns?status=scheduled gives it (newest start first), 50 of 51.
        assert scheduled.evaluate_all("rows => rows.map(r => r.dataset.campaign)") == api_first[:50]
        assert page.locator("section[data-status=scheduled] .count").inner_text() == "50+"
        assert page.locator(f"section[data-status=cancelled] tr[data-campaign='{cid}-00']").count() == 1
        page.click("section[data-status=scheduled] [data-test=more]")
        assert page.locator("section").count() == 1
        assert page.locator("section[data-status=scheduled] tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.campaign)") == [f"{cid}-01"]
        # A forged cursor is a page that does not exist, not an error.
        answer = page.goto(f"{server.url}/console/campaigns?status=scheduled&cursor=forged")
        assert answer.status == 404
    finally:
        context.close()


def test_the_clips_page_lists_sharers_fifty_at_a_time(hooks_server, chromium, cid, shots):  # noqa: F811
    server = hooks_server
    login = new_login(server.database_url)
    sharers = [f"s{n:02d}" for n in range(53)]  # listed by user id
    with api_client(server, login.api_key) as api:
        body = {"id": cid, "title": "Spring live", "market": "SG", "starts_at": iso(now() - timedelta(hours=1)),
                "ends_at": iso(now() + timedelta(hours=1)), "landing_url": "https://shop.example.com/live"}
        assert api.post("/v1/campaigns", json=body).status_code == 201
        clicks = [{"id": f"{cid}-click-{user}", "type": "click", "campaign_id": cid, "user_id": f"friend-{user}",
                   "at": iso(now()),
                   "ref": invite(api, cid, user)} for user in sharers]
        answer = api.post("/v1/events", json={"events": clicks})
        assert answer.status_code == 200 and answer.json()["accepted"] == len(clicks), answer.text
    for locale, lang in (("en-US", "en"), ("ar-SA", "ar")):
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch_errors(page)
            sign_in(page, server.url, login)
            page.goto(f"{server.url}/console/campaigns/{cid}/clips")
            rows = page.locator("[data-test=sharers] tbody tr")

            def shown(rows=rows) -> list[str]:
                return rows.evaluate_all("rs => rs.map(r => r.dataset.user)")

            assert shown() == sharers[:50]
            assert page.locator("[data-test=previous]").count() == 0
            page.click("[data-test=next]")
            page.wait_for_url("**/clips?cursor=*")
            assert shown() == sharers[50:]
            assert page.locator("[data-test=next]").count() == 0
            page.screenshot(path=str(shots / f"clips-page2-{lang}.png"), full_page=True)
            page.click("[data-test=previous]")
            page.wait_for_url("**/clips?before=*")
            assert shown() == sharers[:50]
            assert not errors, errors
        finally:
            context.close()
