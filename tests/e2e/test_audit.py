"""The audit log through the API: management actions with their actor, time, action and target,
newest first, a page at a time, and nothing personal."""

from __future__ import annotations

from tests.e2e.helpers import campaign, post_ok
from tests.support import create_tenant


def all_entries(c, limit: int) -> list[dict]:
    entries, cursor = [], None
    while True:
        page = c.get("/v1/audit", params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["entries"]) <= limit
        entries += body["entries"]
        cursor = body["next_cursor"]
        if cursor is None:
            return entries


def test_management_actions_are_audited_with_their_key(server, cid):
    admin = create_tenant(server.database_url, "audited")
    with server.client(admin) as c:
        me = c.get("/v1/api-keys").json()["api_keys"][0]["id"]
        post_ok(c, "/v1/campaigns", campaign(cid, starts_at="2031-03-01T12:00:00Z", ends_at="2031-03-01T14:00:00Z"))
        assert c.patch(f"/v1/campaigns/{cid}", json={"title": "Renamed"}).status_code == 200
        assert c.post(f"/v1/campaigns/{cid}/cancel").status_code == 200
        other = post_ok(c, "/v1/api-keys", {"name": "ops", "scopes": ["admin"]})
        assert c.delete(f"/v1/api-keys/{other['id']}").status_code == 200
        # Not management (a viewer's profile) and failed calls are not recorded.
        assert c.put("/v1/users/siti", json={"market": "ID", "display_name": "Siti Rahma"}).status_code in (200, 201)
        assert c.post("/v1/campaigns", json=campaign(cid)).status_code == 409
        with server.client(other["key"]) as revoked:
            assert revoked.post("/v1/campaigns", json=campaign(cid + "-2")).status_code == 401

        entries = all_entries(c, limit=2)
        assert [e["action"] for e in entries] == ["api_key.revoke", "api_key.create", "campaign.cancel",
                                                 "campaign.update", "campaign.create"]
        assert {e["actor"] for e in entries} == {me}
        assert entries[0]["target"] == f"key_id={other['id']}"
        assert entries[1]["target"] == f"id={other['id']}"
        assert entries[-1]["target"] == f"id={cid}" and entries[2]["target"] == f"cid={cid}"
        ids = [e["id"] for e in entries]
        assert ids == sorted(ids, reverse=True)
        assert "Siti" not in str(entries) and other["key"] not in str(entries)

        # A page does not shift when actions are recorded meanwhile.
        first = c.get("/v1/audit", params={"limit": 2}).json()
        post_ok(c, "/v1/api-keys", {"name": "later", "scopes": ["read"]})
        second = c.get("/v1/audit", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [e["id"] for e in second["entries"]] == ids[2:4]

        assert c.get("/v1/audit", params={"cursor": "nonsense"}).status_code == 400
        reader = post_ok(c, "/v1/api-keys", {"name": "reader", "scopes": ["read"]})
    with server.client(reader["key"]) as c:
        refused = c.get("/v1/audit")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.scope"


def test_tenants_see_only_their_own_audit(server, client, cid):
    other = create_tenant(server.database_url, "elsewhere")
    post_ok(client, "/v1/campaigns", campaign(cid))
    with server.client(other) as c:
        assert all(cid not in str(e["target"]) for e in all_entries(c, limit=100))


def test_console_logins_are_audited_with_the_operator(server):
    import re

    import httpx

    from tests.e2e.console_helpers import new_login

    login = new_login(server.database_url)
    with httpx.Client(base_url=server.url) as browser:
        def post_login(password: str) -> httpx.Response:
            csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/console/login").text)[1]
            return browser.post("/console/login", data={"csrf": csrf, "email": login.email, "password": password})

        assert post_login(login.password + "x").status_code == 401  # a failed login is no action
        assert post_login(login.password).status_code == 303
    with server.client(login.api_key) as c:
        entries = all_entries(c, limit=10)
    assert [e["action"] for e in entries] == ["console.login"]
    assert entries[0]["actor"].startswith("operator:op") and login.email.lower() not in str(entries).lower()
