"""What the HTTP protocol may answer itself (`Liveloop.answer_now`, `ShareLink.redirect_now`): a share link
whose code and campaign are in memory, with its click counted as on the app's path; nothing for a
crawler, an unknown code or a cancelled campaign (the app answers those), and a redirect without a
counted click over the rate limit. The app runs in this process, on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from liveloop.app import create_app
from liveloop.components import running
from liveloop.settings import Settings
from tests.e2e.helpers import campaign, iso
from tests.e2e.test_proxies import fresh_window
from tests.support import create_tenant

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"
CRAWLER = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


@pytest.fixture
def app_url(new_database):
    url = new_database("redirect_now")
    return url, create_tenant(url, "acme", "shop.example.com")


async def in_app(url: str, key: str, scenario) -> None:
    app = create_app(Settings(database_url=url, rate_limit_share_per_minute=3))
    async with running(app.components):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            await scenario(app, client)


async def clicks(client, cid: str) -> int:
    """The sharer's clicks once the buffered ones are written (they follow their redirect by a loop turn)."""
    for _ in range(100):
        await asyncio.sleep(0.02)
        response = await client.get(f"/v1/campaigns/{cid}/users/sharer/progress")
        if response.status_code == 200:
            return response.json()["metrics"]["clicks"]
    raise AssertionError(response.text)


def test_a_code_in_memory_is_answered_and_counted_and_the_rest_left_to_the_app(app_url):
    url, key = app_url

    async def scenario(app, client):
        later = datetime.now(UTC) + timedelta(days=1)  # scheduled: it can be cancelled below
        body = campaign("now", starts_at=iso(later), ends_at=iso(later + timedelta(hours=1)))
        assert (await client.post("/v1/campaigns", json=body)).status_code == 201
        code = (await client.post("/v1/campaigns/now/invites", json={"user_id": "sharer"})).json()["code"]
        tenant = app.components.share_targets.cached(code).tenant_id

        answered = app.answer_now(f"/s/{code}", PHONE, "203.0.113.5")
        assert answered is not None
        route, tenant_id, head = answered
        assert (route, tenant_id) == ("/s/{code}", tenant)
        assert (b"location: https://shop.example.com/live?src=ig&ll_ref=" + code.encode() + b"\r\n") in head
        assert head.endswith(b"cache-control: no-store\r\nreferrer-policy: no-referrer\r\n")
        assert await clicks(client, "now") == 1

        # Left to the app, nothing counted: a link-preview crawler, an unknown code, another path.
        assert app.answer_now(f"/s/{code}", CRAWLER, "203.0.113.5") is None
        assert app.answer_now("/s/ZZZZZZZZ", PHONE, "203.0.113.5") is None
        assert app.answer_now("/v1/events", PHONE, "203.0.113.5") is None
        assert await clicks(client, "now") == 1

        # Over the share link's limit (3 a minute per address): redirected, not counted.
        fresh_window(5)
        for _ in range(5):
            assert app.answer_now(f"/s/{code}", PHONE, "198.51.100.7") is not None
        assert await clicks(client, "now") == 1 + 3

        # A cancelled campaign's link leads to its page without a referral: the app answers it.
        assert (await client.post("/v1/campaigns/now/cancel")).status_code == 200
        assert app.answer_now(f"/s/{code}", PHONE, "203.0.113.5") is None
        redirect = await client.get(f"/s/{code}", headers={"User-Agent": PHONE})
        assert redirect.status_code == 302 and "ll_ref" not in redirect.headers["location"]

    asyncio.run(in_app(url, key, scenario))
