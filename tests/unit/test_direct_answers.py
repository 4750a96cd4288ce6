"""The HTTP protocol answers a share link's common case itself (ops/serving.py): what it answers, what it
leaves to the ASGI app, and that a connection goes on as usual after it. In process, on uvicorn's own
protocol with a transport that keeps what is written."""

from __future__ import annotations

import asyncio

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from liveloop.ops.proxies import ClientAddress
from liveloop.ops.requests import Requests
from liveloop.ops.serving import DirectAnswers, http_protocol

HEAD = b"content-type: text/plain\r\ncontent-length: 0\r\nlocation: https://shop.example/?ll_ref=abc\r\n"


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name, default=None):
        return {"peername": ("203.0.113.9", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Recorder:
    """The ASGI app behind the protocol: answers 200 and notes each request it was given."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.release = asyncio.Event()  # what `/wait` waits for before answering

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.paths.append(scope["path"])
        if scope["path"] == "/wait":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


class Share:
    """`answer_now` of a share link whose code `abc` is in memory."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str | None]] = []

    def __call__(self, path: str, user_agent: str, client: str | None):
        self.asked.append((path, user_agent, client))
        return ("/s/{code}", "t_1", HEAD) if path == "/s/abc" else None


@pytest.fixture
def served():
    loop = asyncio.new_event_loop()
    app, share = Recorder(), Share()
    requests = Requests(app, route_of=lambda scope: "/s/{code}" if scope["path"].startswith("/s/") else "other",
                        lines=None)
    protocol_class = http_protocol(10.0, DirectAnswers(share, b"/s/", requests, ClientAddress(["203.0.113.0/24"])))
    config = Config(requests, loop="asyncio", http=protocol_class, timeout_keep_alive=5)
    config.load()
    state = ServerState()
    state.default_headers = [(b"Server", b"uvicorn"), (b"date", b"Mon, 07 Dec 2026 12:00:00 GMT")]
    transport = Transport()
    protocol = protocol_class(config=config, server_state=state, app_state={}, _loop=loop)
    protocol.connection_made(transport)

    def send(data: bytes) -> bytes:
        """What the server wrote for `data`, once the requests it started are answered."""
        before = len(transport.written)

        async def received() -> None:  # on the running loop, as the loop calls it
            protocol.data_received(data)

        loop.run_until_complete(received())
        for _ in range(5):
            loop.run_until_complete(asyncio.sleep(0))
        return bytes(transport.written[before:])

    yield send, app, share, transport, state, protocol
    protocol.connection_lost(None)
    loop.close()


def get(path: str, *headers: bytes, version: bytes = b"1.1", method: bytes = b"GET") -> bytes:
    return b"".join([method, b" ", path, b" HTTP/", version, b"\r\nHost: shop\r\n", *(h + b"\r\n" for h in headers),
                     b"\r\n"])


def test_a_share_link_in_memory_is_answered_without_the_app(served):
    send, app, share, transport, state, _protocol = served
    answer = send(get(b"/s/abc?utm_source=x", b"User-Agent: Phone/1", b"X-Forwarded-For: 198.51.100.4"))
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 302 Found"
    assert lines[1:3] == [b"server: uvicorn", b"date: Mon, 07 Dec 2026 12:00:00 GMT"]
    assert b"\r\n".join(lines[3:6]) + b"\r\n" == HEAD
    assert lines[6].startswith(b"x-request-id: ") and len(lines) == 7
    assert rest == b""
    assert app.paths == []
    # The client's address as the trusted proxy names it (the connection comes from 203.0.113.9).
    assert share.asked == [("/s/abc", "Phone/1", "198.51.100.4")]
    assert state.total_requests == 1 and not transport.closed
    # The connection goes on: the next request, whatever answers it.
    assert send(get(b"/healthz")).startswith(b"HTTP/1.1 200")
    assert send(get(b"/s/abc")).startswith(b"HTTP/1.1 302")
    assert app.paths == ["/healthz"]


@pytest.mark.parametrize("request_bytes", [
    get(b"/s/unknown"),  # not in memory: the app looks it up
    get(b"/s/abc", method=b"HEAD"),
    get(b"/s/abc", method=b"POST"),
    get(b"/s/abc", version=b"1.0"),
    get(b"/s/abc", b"Connection: close"),
    get(b"/s/ab%63"),  # the app unquotes
    get(b"/s/abc", b"Expect: 100-continue"),
], ids=["unknown", "head", "post", "http-1.0", "close", "quoted", "expect"])
def test_anything_else_goes_to_the_app(served, request_bytes):
    send, app, _share, _transport, _state, _protocol = served
    assert send(request_bytes).startswith(b"HTTP/1.1 200")
    assert len(app.paths) == 1


def test_a_request_behind_one_still_being_answered_waits_its_turn(served):
    """Pipelined: the share link after an unfinished request is answered after it, by the app."""
    send, app, _share, _transport, _state, _protocol = served
    answer = send(get(b"/slow") + get(b"/s/abc"))
    assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"HTTP/1.1 ") == 2
    assert app.paths == ["/slow", "/s/abc"]


def test_a_body_sent_with_the_get_is_ignored(served):
    send, app, _share, _transport, _state, _protocol = served
    answer = send(get(b"/s/abc", b"Content-Length: 5") + b"hello" + get(b"/other"))
    assert answer.startswith(b"HTTP/1.1 302") and answer.count(b"HTTP/1.1 200") == 1
    assert app.paths == ["/other"]


def test_a_request_read_with_a_direct_answer_is_not_cut_by_the_keep_alive_timeout(served):
    """The direct answer arms uvicorn's keep-alive timeout; the request that came in the same read (a
    stream, a slow one) is answered later and must not be cut off when that timeout fires."""
    send, app, _share, _transport, _state, protocol = served
    answer = send(get(b"/s/abc") + get(b"/wait"))
    assert answer.startswith(b"HTTP/1.1 302") and b"HTTP/1.1 200" not in answer
    assert app.paths == ["/wait"]
    assert protocol.timeout_keep_alive_task is None  # nothing would close the connection meanwhile
    app.release.set()
    assert send(b"").startswith(b"HTTP/1.1 200")
