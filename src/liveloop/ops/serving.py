"""The HTTP protocol `liveloop serve` runs: uvicorn's httptools protocol with a header read timeout.

uvicorn arms its keep-alive timeout only once a response is sent, and cancels it at the first byte
of the next request. A client that connects and sends nothing, or half a request line or half its
headers (a slowloris), holds its socket for good. Here a connection must complete its request
headers within `header_timeout` seconds from its opening, or from the first byte of each further
request on it; otherwise it is closed without an answer, like uvicorn's own keep-alive timeout.
Bodies and responses are not timed here: streams last long by design.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout = 10.0

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._start_header_timer()  # a further request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def http_protocol(header_timeout: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for uvicorn's `http=`, with this header timeout."""
    return type("LiveloopHttpProtocol", (HeaderTimeoutProtocol,), {"header_timeout": header_timeout})
