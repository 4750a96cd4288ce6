"""The HTTP protocol `liveloop serve` runs: uvicorn's httptools protocol with a header read timeout and
direct answers.

uvicorn arms its keep-alive timeout only once a response is sent, and cancels it at the first byte
of the next request. A client that connects and sends nothing, or half a request line or half its
headers (a slowloris), holds its socket for good. Here a connection must complete its request
headers within `header_timeout` seconds from its opening, or from the first byte of each further
request on it; otherwise it is closed without an answer, like uvicorn's own keep-alive timeout. One
sweep a second (or four per timeout, if shorter) closes the overdue connections: no timer is armed
and cancelled per request. Bodies and responses are not timed here: streams last long by design.

The protocol also answers the share link's common case itself (`DirectAnswers`): a GET whose answer
needs no waiting (its code and campaign in memory) is answered as soon as its headers are read,
without the request-response cycle, task, coroutines and header checks of the ASGI path, which cost
more than the share link's own work. The request still gets its id, counts and log line; everything
else, and every request this cannot answer, goes to the ASGI app as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import SimpleNamespace

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from liveloop.ops import metrics
from liveloop.ops.proxies import ClientAddress
from liveloop.ops.requests import Requests

log = logging.getLogger("liveloop.server")

AnswerNow = Callable[[str, str, "str | None"], "tuple[str, str, bytes] | None"]


class DirectAnswers:
    """The app's `answer_now` (app.py) for the protocol: the client's address taken through the trusted
    proxies, and the request layer's id, counts and line (ops/requests.py), as on the ASGI path."""

    def __init__(self, answer_now: AnswerNow, under: bytes, requests: Requests | None,
                 client_of: ClientAddress) -> None:
        self._answer_now = answer_now
        self.under = under  # the start of the paths `answer_now` may answer: the protocol asks about no other
        self._requests = requests
        self._client_of = client_of

    def answer(self, path: str, headers: list[tuple[bytes, bytes]], client: tuple | None) -> bytes | None:
        """Answer a GET if the app can at once: its click counted, the request counted and logged, and
        the header lines of its 302 returned (after the status line and the server's own). None: the
        app answers it as usual."""
        started = time.perf_counter()
        user_agent = ""
        for name, value in headers:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
                break
        found = self._answer_now(path, user_agent, self._client_of(client, headers))
        if found is None:
            return None
        route, tenant_id, head = found
        metrics.DIRECT_ANSWERS.count += 1
        requests = self._requests
        if requests is None:
            return head
        request_id = requests.new_id(client, headers)
        requests.answered("GET", route, 302, started, request_id, tenant_id)
        return head + b"x-request-id: " + request_id.encode() + b"\r\n"


# The protocol's `cycle` after a direct answer: a complete response, which is all uvicorn's protocol
# checks before starting the next request or closing the connection at shutdown (it sets the event
# when the connection is lost; nobody waits on it).
_ANSWERED = SimpleNamespace(response_complete=True, keep_alive=True, disconnected=False,
                            message_event=asyncio.Event())
_FOUND = STATUS_LINE[302]


class LiveloopHttpProtocol(HttpToolsProtocol):
    header_timeout = 10.0
    direct: DirectAnswers | None = None

    # The loop time by which the request's headers must be complete (None: not reading headers). No
    # timer per request: one sweep per server closes the connections past their deadline (`_sweep`).
    _header_deadline: float | None = None
    _server_head: tuple[list, bytes] = ([], b"")  # the server's default headers, and as bytes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = self.loop.time() + self.header_timeout
        state = self.server_state
        if getattr(state, "liveloop_header_sweep", None) is None:
            _sweep(self.loop, state, max(0.05, min(1.0, self.header_timeout / 4)))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_deadline is None:  # a further request on a kept-alive connection
            self._header_deadline = self.loop.time() + self.header_timeout
        # A request answered directly arms uvicorn's keep-alive timeout while the rest of what was read
        # is still being parsed: a request that came with it is not idle time (uvicorn itself only
        # cancels the timeout when data arrives).
        self._unset_keepalive_if_required()

    def on_headers_complete(self) -> None:
        self._header_deadline = None
        if self.direct is not None and self.url.startswith(self.direct.under) and self._answered_directly(self.direct):
            return
        super().on_headers_complete()

    def _answered_directly(self, direct: DirectAnswers) -> bool:
        """Answer the request here if `direct` can: a plain GET on a kept-alive HTTP/1.1 connection with
        nothing before it still being answered (anything else is left to uvicorn's own handling)."""
        parser = self.parser
        cycle = self.cycle
        if (parser.get_method() != b"GET" or parser.get_http_version() != "1.1" or not parser.should_keep_alive()
                or parser.should_upgrade() or self.expect_100_continue or self.root_path
                or self.limit_concurrency is not None or self.flow.write_paused
                or (cycle is not None and not cycle.response_complete)):
            return False
        path = httptools.parse_url(self.url).path
        if b"%" in path or not path.isascii():
            return False
        try:
            head = direct.answer(path.decode("ascii"), self.headers, self.client)
        except Exception:
            # A bug: the app answers instead (a click counted before the failure is counted twice).
            log.exception("a share link could not be answered directly; the app answers it")
            return False
        if head is None:
            return False
        self.cycle = _ANSWERED  # type: ignore[assignment]
        self.transport.write(b"".join((_FOUND, self._server_headers(), head, b"\r\n")))
        self.on_response_complete()
        return True

    def _server_headers(self) -> bytes:
        """uvicorn's default headers (server, date) as it writes them; it replaces the list each second."""
        listed = self.server_state.default_headers
        cached = LiveloopHttpProtocol._server_head
        if cached[0] is not listed:
            encoded = b"".join(name.lower() + b": " + value + b"\r\n" for name, value in listed)
            cached = LiveloopHttpProtocol._server_head = (listed, encoded)
        return cached[1]


def _sweep(loop: asyncio.AbstractEventLoop, state, period: float) -> None:
    """Close the connections of a server whose request headers are overdue, then again in `period` seconds:
    a connection is closed between its deadline and a period later."""
    now = loop.time()
    # Other protocols (websockets) have no deadline. Listed first: a transport may end its connection,
    # and leave the set, as soon as it is closed.
    overdue = [protocol for protocol in state.connections
               if getattr(protocol, "_header_deadline", None) is not None and protocol._header_deadline <= now]
    for protocol in overdue:
        protocol._header_deadline = None
        if not protocol.transport.is_closing():
            protocol.transport.close()  # like uvicorn's keep-alive timeout: no answer
    state.liveloop_header_sweep = loop.call_later(period, _sweep, loop, state, period)


def http_protocol(header_timeout: float, direct: DirectAnswers | None = None) -> type[LiveloopHttpProtocol]:
    """The protocol class for uvicorn's `http=`, with this header timeout and these direct answers."""
    return type("ServedHttpProtocol", (LiveloopHttpProtocol,), {"header_timeout": header_timeout,
                                                                  "direct": direct})
