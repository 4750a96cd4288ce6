"""The shop's side of outgoing webhooks, for the demo: a receiver on this machine that checks every
message's Standard Webhooks signature, as a shop's back end would, and counts what arrived."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


class HookReceiver:
    def __init__(self, port: int) -> None:
        self.port = port
        self.secret: str | None = None
        self.types: Counter[str] = Counter()
        self.forged = 0
        self.last_at = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.take(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256
            daemon_threads = True

        self._server = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/liveloop-hooks"

    def take(self, body: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            self.last_at = time.monotonic()
            try:
                message = Webhook(self.secret or "").verify(body, headers)
            except (WebhookVerificationError, ValueError):
                self.forged += 1
                return
            self.types[message["type"]] += 1

    def settle(self, quiet_seconds: float = 1.5, at_most: float = 30.0) -> None:
        """Wait until nothing has arrived for `quiet_seconds` (deliveries follow the events closely)."""
        deadline = time.monotonic() + at_most
        while time.monotonic() < deadline:
            with self._lock:
                quiet = time.monotonic() - self.last_at if self.last_at else 0.0
            if quiet >= quiet_seconds and self.types:
                return
            time.sleep(0.2)

    def __enter__(self) -> HookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()
