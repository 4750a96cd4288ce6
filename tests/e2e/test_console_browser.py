"""The operator console in a real headless Chromium: what an operator sees and does.

Screenshots of the main pages are written to $LIVELOOP_CONSOLE_SCREENSHOTS when it is set (docs/console.md
shows them), else to the test's temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.console_helpers import Login, new_login
from tests.e2e.test_widget_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


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
    page.on("pageerror", lambda exc: seen.append(f"error: {exc}"))
    page.on("console", lambda msg: seen.append(f"console: {msg.text}") if msg.type == "error" else None)
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
