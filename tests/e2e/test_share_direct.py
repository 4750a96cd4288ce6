"""A real `liveloop serve` answers a share link's common case in its HTTP protocol (ops/serving.py): the
answer is the ASGI path's, byte for byte but for the date and request id, and each click is counted,
logged and measured once, whichever path answered it."""

from __future__ import annotations

import socket

from tests.e2e.helpers import campaign, invite, post_ok
from tests.e2e.test_logs import JSON_INFO, requests_in
from tests.support import Server, eventually, scrape, sqlite_tenant

TOKEN = "m-token"
AGENT = b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"


def exchange(port: int, requests: list[bytes]) -> list[bytes]:
    """Send each request on one connection, reading its answer before the next: the answers' heads."""
    heads = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for request in requests:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                assert chunk, f"closed after {data!r}"
                data += chunk
            heads.append(data.split(b"\r\n\r\n")[0])
    return heads


def share_get(code: str, *extra: bytes) -> bytes:
    return b"".join([f"GET /s/{code} HTTP/1.1\r\nHost: shop\r\nUser-Agent: ".encode(), AGENT, b"\r\n",
                     *(line + b"\r\n" for line in extra), b"\r\n"])


def header_lines(head: bytes) -> list[bytes]:
    """The head without what differs between two answers of the same request: date, request id, connection."""
    return [line for line in head.split(b"\r\n")
            if not line.startswith((b"date: ", b"x-request-id: ", b"connection: "))]


def test_the_direct_answer_is_the_asgi_answer_and_every_click_counts_once(tmp_path):
    url, key, tenant = sqlite_tenant(tmp_path, "direct")
    log = tmp_path / "server.log"
    cid = "direct"
    with Server(url, log_path=log, env={**JSON_INFO, "LIVELOOP_METRICS_TOKEN": TOKEN}).start() as server, \
            server.client(key) as c:
        post_ok(c, "/v1/campaigns", campaign(cid))
        code = invite(c, cid, "sharer")
        # `Connection: close` always goes to the ASGI app (it closes the connection after the answer);
        # a kept-alive GET of a code in memory is answered by the protocol itself.
        asgi = exchange(server.port, [share_get(code, b"Connection: close")])
        direct = exchange(server.port, [share_get(code)] * 3)
        assert asgi[0].startswith(b"HTTP/1.1 302 Found\r\n")
        assert all(header_lines(head) == header_lines(asgi[0]) for head in direct)
        ids = {line for head in asgi + direct for line in head.split(b"\r\n") if line.startswith(b"x-request-id: ")}
        assert len(ids) == 4

        def clicks() -> int:
            return c.get(f"/v1/campaigns/{cid}/users/sharer/progress").json()["metrics"]["clicks"]

        assert eventually(lambda: clicks() == 4)
        counted = scrape(f"{server.url}/metrics", TOKEN)
        assert counted.value("liveloop_responses_total", route="/s/{code}", status="302") == 4
        # the three kept-alive ones by the protocol (the first with `Connection: close` by the app)
        assert counted.value("liveloop_share_direct_answers_total") == 3
    shares = [line for line in requests_in(log).values() if line["route"] == "/s/{code}"]
    assert len(shares) == 4
    assert {line["tenant_id"] for line in shares} == {tenant}
    assert {line["status"] for line in shares} == {302}
    assert {f"x-request-id: {line['request_id']}".encode() for line in shares} == ids
