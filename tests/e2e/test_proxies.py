"""X-Forwarded-For on real processes: believed only from LIVELOOP_TRUSTED_PROXIES, so that a client cannot
name its own address to slip the per-address rate limits or the click's recorded address."""

from __future__ import annotations

import subprocess
import time

import sqlalchemy as sa

from liveloop.kit.db.dialect import create_engine
from tests.e2e.helpers import campaign, invite, post_ok
from tests.support import BIN, Server, create_tenant, eventually

LIMIT = {"LIVELOOP_RATE_LIMIT_SHARE_PER_MINUTE": "3"}


def fresh_window(needed_seconds: float) -> None:
    """Limits count in fixed one-minute windows: start where the test ends in the same one."""
    left = 60 - time.time() % 60
    if left < needed_seconds:
        time.sleep(left + 0.05)


def click_addresses(url: str, cid: str) -> list[str | None]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT ip FROM events WHERE campaign_id = :cid AND type = 'click' ORDER BY seq"),
                            {"cid": cid}).scalars().all()
    engine.dispose()
    return list(rows)


def clicks_from(server: Server, key: str, cid: str, forwarded: list[str]) -> tuple[int, list[str | None]]:
    """Six clicks, each claiming to come from the next of `forwarded`: (clicks counted, addresses logged)."""
    with server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid))
        code = invite(c, cid, "sharer")
        fresh_window(10)
        with server.client(None) as anonymous:
            for address in forwarded:
                assert anonymous.get(f"/s/{code}", headers={"X-Forwarded-For": address}).status_code == 302

        def settled() -> int | None:
            """The clicks counted, once they stop changing (clicks are written just after their redirect)."""
            first = c.get(f"/v1/campaigns/{cid}/users/sharer/progress").json()["metrics"]["clicks"]
            time.sleep(0.3)
            return first if first and first == c.get(
                f"/v1/campaigns/{cid}/users/sharer/progress").json()["metrics"]["clicks"] else None

        return eventually(settled), click_addresses(server.database_url, cid)


SPOOFED = [f"203.0.113.{i}" for i in range(6)]


def test_a_client_not_listed_cannot_name_its_own_address(tmp_path):
    url = f"sqlite:///{tmp_path / 'direct.db'}"
    key = create_tenant(url)
    for env, cid in (({}, "direct"), ({"LIVELOOP_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7"}, "elsewhere")):
        with Server(url, env={**LIMIT, **env}).start() as server:
            counted, addresses = clicks_from(server, key, cid, SPOOFED)
        # Six clicks from one connection's address: three counted, the rest over its limit.
        assert counted == 3 and addresses == ["127.0.0.1"] * 3, (cid, counted, addresses)


def test_a_listed_proxy_gives_each_client_its_own_address(tmp_path):
    url = f"sqlite:///{tmp_path / 'proxied.db'}"
    key = create_tenant(url)
    with Server(url, env={**LIMIT, "LIVELOOP_TRUSTED_PROXIES": "127.0.0.0/8,::1"}).start() as server:
        counted, addresses = clicks_from(server, key, "proxied", SPOOFED)
        assert counted == 6 and addresses == SPOOFED
        # What a client writes into the header itself comes before the proxy's entry: ignored.
        chained = [f"198.51.100.9, 203.0.113.{i}" for i in range(6)]
        counted, addresses = clicks_from(server, key, "chained", chained)
        assert counted == 6 and addresses == SPOOFED
        # Behind the proxy, one client is held to its limit.
        counted, _ = clicks_from(server, key, "one-client", ["203.0.113.50"] * 6)
        assert counted == 3
        # The proxy's own request id names the request; a client's is not believed without a proxy.
        given = server.client(None).get("/healthz", headers={"X-Request-Id": "nginx-7f3a"}).headers["x-request-id"]
        assert given == "nginx-7f3a"
    with Server(url).start() as server:
        given = server.client(None).get("/healthz", headers={"X-Request-Id": "nginx-7f3a"}).headers["x-request-id"]
        assert given != "nginx-7f3a"


def test_a_malformed_proxy_list_stops_the_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    run = subprocess.run([str(BIN / "liveloop"), "serve", "--database-url", url, "--port", "1"],
                         env={"PATH": "/usr/bin:/bin", "LIVELOOP_TRUSTED_PROXIES": "10.0.0.0/8,nginx.internal"},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "nginx.internal" in run.stderr
