"""Reading a server-sent events stream of a real server in a thread, for the e2e tests."""

from __future__ import annotations

import queue
import socket
import threading
import time

import httpx
import orjson
import pytest

QUIET = 0.7  # how long a stream must stay silent to count as "got nothing"


class SseStream:
    """An open SSE response read in a thread; messages are parsed, with their `id` and arrival time."""

    def __init__(self, server, path: str, *, params: dict | None = None, headers: dict | None = None) -> None:
        self._client = httpx.Client(base_url=server.url, timeout=httpx.Timeout(10, read=60))
        self._stream = self._client.stream("GET", path, params=params or {}, headers=headers or {})
        self.response = self._stream.__enter__()  # the headers are in: the stream is subscribed
        self.messages: queue.Queue[tuple[float, dict]] = queue.Queue()
        self.pings = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self.response.iter_lines():
                if line == "":
                    if "data" in fields:
                        message = {"id": fields.get("id"), **orjson.loads(fields["data"])}
                        self.messages.put((time.monotonic(), message))
                    fields = {}
                elif line.startswith(":"):
                    self.pings += 1
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
        except (httpx.HTTPError, OSError, RuntimeError):
            pass  # closed by the test

    def next(self, timeout: float = 5) -> dict:
        return self.messages.get(timeout=timeout)[1]

    def take(self, n: int) -> list[dict]:
        return [self.next() for _ in range(n)]

    def drain(self, seconds: float) -> list[tuple[float, dict]]:
        """Every (arrival time, message) that comes within `seconds`."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return out

    def assert_quiet(self, seconds: float = QUIET) -> None:
        with pytest.raises(queue.Empty):
            extra = self.messages.get(timeout=seconds)
            pytest.fail(f"unexpected message {extra[1]}")

    def close(self) -> None:
        # Closing the response does not wake a thread blocked reading it; shutting the socket does.
        sock = self.response.extensions["network_stream"].get_extra_info("socket")
        sock.shutdown(socket.SHUT_RDWR)
        self.response.close()
        self._client.close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
