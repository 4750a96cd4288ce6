"""Console logins over plain HTTP: the answers a script or an attacker gets (the browser's view is in
test_console_browser.py)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.e2e.console_helpers import new_login
from tests.support import Server, cli


def login_form(client: httpx.Client) -> str:
    """GET the login page (which sets the double-submit cookie) and return its CSRF token."""
    page = client.get("/console/login")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text)[1]


def post_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/console/login", data={"csrf": login_form(client), "email": email, "password": password})


def test_a_login_sets_an_httponly_samesite_cookie_and_opens_the_console(server):
    login = new_login(server.database_url)
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/console/campaigns").headers["location"] == "/console/login"
        answer = post_login(client, login.email.upper(), login.password)  # emails are not case-sensitive
        assert answer.status_code == 303 and answer.headers["location"] == "/console/campaigns"
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("liveloop_console="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # the public URL is http here
        page = client.get("/console/campaigns")
        assert page.status_code == 200 and login.email.lower() in page.text


def test_unknown_email_and_wrong_password_get_the_same_answer_then_429_with_retry_after(server):
    login = new_login(server.database_url)
    with httpx.Client(base_url=server.url) as client:
        wrong = post_login(client, login.email, login.password + "x")
        unknown = post_login(client, f"nobody-{uuid.uuid4().hex[:6]}@example.com", login.password)
        assert wrong.status_code == unknown.status_code == 401
        said = [re.search(r'data-test="login-error">([^<]+)<', r.text)[1] for r in (wrong, unknown)]
        assert said[0] == said[1] == "Wrong email or password."
        for _ in range(4):
            assert post_login(client, login.email, "not it at all").status_code == 401
        # Five failures for this email from this address: even the right password waits now.
        held = post_login(client, login.email, login.password)
        assert held.status_code == 429
        assert 14 * 60 < int(held.headers["retry-after"]) <= 15 * 60
        assert "Try again in 15 min." in held.text
        assert "liveloop_console=" not in held.headers.get("set-cookie", "")


def test_a_login_post_without_its_csrf_token_is_refused_with_403(server):
    login = new_login(server.database_url)
    with httpx.Client(base_url=server.url) as client:
        login_form(client)
        answer = client.post("/console/login", data={"email": login.email, "password": login.password})
        assert answer.status_code == 403 and 'data-test="csrf-refused"' in answer.text
        forged = client.post("/console/login", data={"csrf": "x" * 43, "email": login.email,
                                                       "password": login.password})
        assert forged.status_code == 403


def test_the_session_cookie_is_secure_when_the_public_url_is_https(server, tmp_path):
    login = new_login(server.database_url)
    other = Server(server.database_url, env={"LIVELOOP_PUBLIC_URL": "https://live.example.com"}).start()
    try:
        with httpx.Client(base_url=other.url) as client:
            token = login_form(client)
            # The login form's cookie is Secure too: over this test's plain http, the client is handed it.
            client.cookies.set("liveloop_login_csrf", token)
            answer = client.post("/console/login", data={"csrf": token, "email": login.email,
                                                          "password": login.password})
            cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("liveloop_console="))
            assert "Secure" in cookie and "HttpOnly" in cookie
    finally:
        other.stop()


def test_tenant_create_and_operator_add_as_processes_give_a_login_that_opens_the_console(server):
    # The other tests make their logins in the test process (tests/support.py `setup_cli`).
    made = cli("tenant", "create", "cli-made", "--database-url", server.database_url).stdout
    tenant_id = re.search(r"tenant (tn_\w+)", made)[1]
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    added = cli("operator", "add", tenant_id, email, "--database-url", server.database_url).stdout
    password = added.strip().splitlines()[-1]
    chosen = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    cli("operator", "add", tenant_id, chosen, "--password-stdin", "--database-url", server.database_url,
        stdin="a long chosen password\n")
    for who, secret in ((email, password), (chosen, "a long chosen password")):
        with httpx.Client(base_url=server.url) as client:
            answer = post_login(client, who, secret)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/campaigns", who


def test_operator_add_refuses_an_unknown_tenant_and_a_second_login_for_one_email(server):
    login = new_login(server.database_url)
    with pytest.raises(Exception) as unknown:  # noqa: B017 - CalledProcessError, checked below
        cli("operator", "add", "tn_nope", "someone@example.com", "--database-url", server.database_url)
    assert "no tenant 'tn_nope'" in unknown.value.stderr
    with pytest.raises(Exception) as twice:  # noqa: B017
        cli("operator", "add", login.tenant_id, login.email, "--database-url", server.database_url)
    assert "already has a login" in twice.value.stderr


def test_a_session_opened_in_one_process_works_in_another_and_logging_out_there_ends_it_here(server):
    login = new_login(server.database_url)
    other = Server(server.database_url).start()
    try:
        with httpx.Client(base_url=server.url) as here, httpx.Client(base_url=other.url) as there:
            assert post_login(here, login.email, login.password).status_code == 303
            there.cookies.set("liveloop_console", here.cookies["liveloop_console"])
            page = there.get("/console/campaigns")
            assert page.status_code == 200 and login.email.lower() in page.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
            assert there.post("/console/logout", data={"csrf": csrf}).headers["location"] == "/console/login?out=1"
            assert here.get("/console/campaigns").headers["location"] == "/console/login?expired=1"
    finally:
        other.stop()
