"""The outermost ASGI layer of a served process: each request gets an id, is timed, counted and logged.

The id is returned as `X-Request-Id` and names the request in every log line written while it is
served; a trusted proxy's own id for the request (nginx's `$request_id`) is taken when it sends one,
so that its log and liveloop's name a request alike.

The route template, not the path, names a request ("/s/{code}", "/v1/campaigns/{cid}"): a small
fixed set that carries no code, token or id a client chose. The app says which template answered
(`route_of`), after the call, once FastAPI's router has matched it.

The hot paths pay a few microseconds for this (CONVENTIONS.md point 9; docs/benchmarks.md measures
it): one histogram observation and one increment, and a log line formatted and written with the
others of the same event-loop turn rather than through `logging` (about 5 µs a line).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import TextIO

import orjson
from prometheus_client import Counter, Histogram

from liveloop.ops import metrics
from liveloop.ops.context import CURRENT, Request
from liveloop.ops.logging import Stamp
from liveloop.ops.proxies import TrustedProxies

# Streams last minutes: their duration would say nothing about latency (metrics.OPEN_STREAMS counts them).
STREAMS = frozenset({"/v1/stream", "/v1/campaigns/{cid}/room-stream"})
CLIENT_LEFT = 499  # no answer was started: the client went away first (nginx's code for it)
LOGGER = "liveloop.request"
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestLines:
    """One line per request, at level info of the `liveloop.request` logger, in the process's log format."""

    def __init__(self, *, json: bool, stream: TextIO | None = None) -> None:
        self._json = json
        self._stream = stream
        self._pending: list[tuple] = []
        self._stamp = Stamp()

    @staticmethod
    def wanted() -> bool:
        return logging.getLogger(LOGGER).isEnabledFor(logging.INFO)

    def add(self, request: Request, method: str, route: str, seconds: float) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append((time.time(), request.id, request.tenant_id, method, route, request.status, seconds))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        stamp = self._stamp
        if self._json:
            text = "".join(orjson.dumps({
                "time": stamp(at), "level": "info", "logger": LOGGER, "message": f"{method} {route} {status}",
                "request_id": rid, "tenant_id": tenant, "method": method, "route": route, "status": status,
                "duration_ms": round(seconds * 1000, 2)}).decode() + "\n"
                for at, rid, tenant, method, route, status, seconds in pending)
        else:
            text = "".join(f"{stamp(at)} INFO {LOGGER}: {method} {route} {status} {seconds * 1000:.2f} ms "
                           f"request_id={rid} tenant_id={tenant or '-'}\n"
                           for at, rid, tenant, method, route, status, seconds in pending)
        stream = self._stream or sys.stderr
        stream.write(text)
        stream.flush()


class Requests:
    def __init__(self, app, *, route_of: Callable[[dict], str], lines: RequestLines | None,
                 proxies: TrustedProxies | None = None) -> None:
        self._app = app
        self._proxies = proxies
        self._route_of = route_of
        self._lines = lines
        self._latency: dict[str, Histogram] = {}
        self._answers: dict[tuple[str, int], Counter] = {}
        # Ids unique across processes and restarts without a system call per request.
        self._prefix = secrets.token_hex(4) + "-"
        self._count = itertools.count(1)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        given = self._given_id(scope) if self._proxies else None
        request = Request(given or f"{self._prefix}{next(self._count):x}")
        CURRENT.set(request)
        id_header = (b"x-request-id", request.id.encode())

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                request.status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        except BaseException:
            if request.status is None:
                request.status = 500  # the server answers it
            raise
        finally:
            if request.status is None:
                request.status = CLIENT_LEFT
            self._done(scope, request, time.perf_counter() - started)

    def _given_id(self, scope) -> str | None:
        """The X-Request-Id of a trusted proxy (seen before the proxy headers are applied)."""
        client = scope.get("client")
        if client is None or client[0] not in self._proxies:
            return None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                return given if _GIVEN_ID.fullmatch(given) else None
        return None

    def _done(self, scope, request: Request, seconds: float) -> None:
        route = self._route_of(scope)
        # One histogram observation and one increment per request, their label children cached.
        if route not in STREAMS:
            latency = self._latency.get(route)
            if latency is None:
                latency = self._latency[route] = metrics.REQUEST_SECONDS.labels(route)
            latency.observe(seconds)
        status = request.status
        answers = self._answers.get((route, status))
        if answers is None:
            answers = self._answers[(route, status)] = metrics.RESPONSES.labels(route, str(status))
        answers.inc()
        if self._lines is not None:
            self._lines.add(request, scope["method"], route, seconds)
