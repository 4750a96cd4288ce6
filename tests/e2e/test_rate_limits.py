"""Rate limits on the public endpoints, over a real server with a small limit."""

from __future__ import annotations

from tests.e2e.helpers import campaign, invite, post_ok
from tests.support import Server, create_tenant


def test_share_link_over_the_limit_still_redirects_but_stops_counting(tmp_path):
    url = f"sqlite:///{tmp_path / 'rl.db'}"
    key = create_tenant(url)
    srv = Server(url, env={"LIVELOOP_RATE_LIMIT_SHARE_PER_MINUTE": "5",
                           "LIVELOOP_RATE_LIMIT_STREAM_PER_MINUTE": "2"}).start()
    try:
        with srv.client(key) as c:
            post_ok(c, "/v1/campaigns", campaign("rl"))
            code = invite(c, "rl", "alice")
            with srv.client(None) as anon:
                answers = [anon.get(f"/s/{code}").status_code for _ in range(8)]
                streams = [anon.get("/v1/stream", params={"token": "x"}).status_code for _ in range(3)]
            assert answers == [302] * 8
            assert c.get("/v1/campaigns/rl/users/alice/progress").json()["metrics"]["clicks"] == 5
            assert streams == [401, 401, 429]
    finally:
        srv.stop()
