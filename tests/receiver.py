"""A webhook receiver on the loopback: records every request, answers as each path is told to."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    statuses: list[int] = field(default_factory=list)  # answered in turn; 200 once they run out
    delay: float = 0.0  # seconds before answering
    location: str | None = None


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.behaviour: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, time.monotonic()))
                    plan = receiver.behaviour.get(self.path, Behaviour())
                    status = plan.statuses.pop(0) if plan.statuses else 200
                if plan.delay:
                    time.sleep(plan.delay)
                self.send_response(status)
                if plan.location:
                    self.send_header("location", plan.location)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # socketserver's default backlog of 5 resets connections when many attempts arrive at once
            request_queue_size = 256

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, predicate, timeout: float = 15.0) -> list[Received]:
        """The requests to `path` once `predicate(requests)` holds; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.at(path)
            if predicate(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: {len(got)} requests, condition not met in {timeout} s")
            time.sleep(0.05)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()
