"""Clients that open a connection and never finish their request headers are disconnected.

uvicorn arms its keep-alive timeout only after a response: a connection that sends nothing, or
half a request, would otherwise stay open for good and hold a file descriptor (a slowloris).
`LIVELOOP_HEADER_TIMEOUT_SECONDS` bounds the time from the connection (or from the first byte of
a further request on it) to the end of the headers.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.support import Server

TIMEOUT = 1.0
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: liveloop\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('slow') / 'slow.db'}"
    srv = Server(url, env={"LIVELOOP_HEADER_TIMEOUT_SECONDS": str(TIMEOUT)}).start()
    yield srv
    srv.stop()


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(TIMEOUT + 4)
    return sock


def closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes the connection (it sends nothing first)."""
    started = time.monotonic()
    try:
        data = sock.recv(4096)
    except TimeoutError:
        pytest.fail("the server kept the connection open")
    except ConnectionResetError:
        data = b""
    assert data == b"", data
    return time.monotonic() - started


def response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


@pytest.mark.parametrize("partial", [b"", b"GE", b"GET /healthz HTTP/1.1\r\nHost: liveloop\r\n"],
                         ids=["nothing", "request-line", "headers"])
def test_a_request_that_never_completes_its_headers_is_closed(server, partial):
    with connect(server) as sock:
        sock.sendall(partial)
        assert closed_after(sock) < TIMEOUT + 1.5


def test_a_slow_but_steady_client_is_answered(server):
    with connect(server) as sock:
        for i in range(0, len(REQUEST), 12):
            sock.sendall(REQUEST[i:i + 12])
            time.sleep(0.15)  # the whole request takes about half the timeout
        assert response(sock).startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_gets_the_timeout_again_for_its_next_request(server):
    with connect(server) as sock:
        sock.sendall(REQUEST)
        assert response(sock).startswith(b"HTTP/1.1 200")
        time.sleep(TIMEOUT * 0.8)  # idle, within uvicorn's keep-alive: not counted against the next one
        sock.sendall(REQUEST[:20])
        time.sleep(TIMEOUT * 0.5)
        sock.sendall(REQUEST[20:])
        assert response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(REQUEST[:20])  # half a request, never finished
        assert closed_after(sock) < TIMEOUT + 1.5
