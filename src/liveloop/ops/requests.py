"""The outermost ASGI layer of a served process: each request gets an id, is timed, counted and logged.

The id is returned as `X-Request-Id` and names the request in every log line written while it is
served; a trusted proxy's own id for the request (nginx's `$request_id`) is taken when it sends one,
so that its log and liveloop's name a request alike.

The route template, not the path, names a request ("/s/{code}", "/v1/campaigns/{cid}"): a small
fixed set that carries no code, token or id a client chose. The app says which template answered
(`route_of`), after the call, once FastAPI's router has matched it.

The hot paths pay a few microseconds for this (CONVENTIONS.md point 9; docs/benchmarks.md measures
it): the latency and status counted in plain Python (ops/metrics.py `RequestCounts`), and a log line
encoded and written with the others of the last tenth of a second, in one loop, rather than through
`logging`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import BinaryIO

import orjson

from liveloop.ops import metrics
from liveloop.ops.context import CURRENT, Request
from liveloop.ops.logging import Stamp
from liveloop.ops.proxies import TrustedProxies

# Streams last minutes: their duration would say nothing about latency (metrics.OPEN_STREAMS counts them).
STREAMS = frozenset({"/v1/stream", "/v1/campaigns/{cid}/room-stream"})
CLIENT_LEFT = 499  # no answer was started: the client went away first (nginx's code for it)
LOGGER = "liveloop.request"
_LATENCY = metrics.LATENCY
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestLines:
    """One line per request, at level info of the `liveloop.request` logger, in the process's log format.

    A request only leaves its seven fields in memory when it ends; the lines are encoded and written
    together about ten times a second (`FLUSH_SECONDS`), or sooner when `MAX_PENDING` wait: one write
    system call per flush, and the encoding done in one tight loop. Line by line between requests, the
    same encoding cost about three times as much event-loop time as in a loop (docs/benchmarks.md).
    `flush` is also called at shutdown, by the watchdog, and before any other log record is written
    (ops/logging.py `write_before_records`), so that a notable event is written at once, after the
    request lines that came before it.
    """

    FLUSH_SECONDS = 0.1
    MAX_PENDING = 10_000  # about 2 MB of JSON: a burst is written before the interval ends
    _FIELDS = 7  # a request's in `_fields`: time, id, tenant, method, route, status, seconds

    def __init__(self, *, json: bool, stream: BinaryIO | None = None) -> None:
        self._stream = stream
        # The fields of the requests not written yet, flat: appended on the event loop, taken by a flush
        # there or in a thread writing a record or ending the process. Plain values, none of them an
        # object the garbage collector tracks.
        self._fields: list = []
        self._taking = threading.Lock()  # an append and a flush's taking of the list, one at a time
        self._timer: asyncio.TimerHandle | None = None  # touched on the event loop only
        # One flush at a time, so lines keep their order. Reentrant: a finalizer run by a garbage collection
        # during the encoding may log, and a record flushes first (it finds nothing new to write).
        self._write = threading.RLock()
        self._stamp = Stamp()
        self._parts: dict[tuple, tuple[str, str]] = {}
        self._tenants: dict[str | None, str] = {None: "null"}
        self._lines = self._json_lines if json else self._text_lines

    @staticmethod
    def wanted() -> bool:
        return logging.getLogger(LOGGER).isEnabledFor(logging.INFO)

    def add(self, request_id: str, tenant_id: str | None, method: str, route: str, status: int,
            seconds: float) -> None:
        request = (time.time(), request_id, tenant_id, method, route, status, seconds)
        # Nothing is allocated while the lock is held: a garbage collection there could run a finalizer
        # that logs, and a record flushes the lines first (`flush` would wait for this very lock).
        with self._taking:
            self._fields.extend(request)
            waiting = len(self._fields)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.FLUSH_SECONDS, self._due)
        elif waiting >= self.MAX_PENDING * self._FIELDS:
            self.flush()

    def _due(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Write every line waiting (from any thread)."""
        if not self._fields:
            return
        with self._write:
            fresh: list = []
            with self._taking:
                fields, self._fields = self._fields, fresh
            if not fields:
                return
            text = self._lines(fields)
            # Past the text layer of stderr, whose buffer `logging` empties after every record.
            stream = self._stream or sys.stderr.buffer
            stream.write(text.encode())
            stream.flush()

    def _requests(self, fields: list) -> Iterator[tuple[str, str, str | None, str, str, int, float]]:
        """Each request's fields, its time replaced by its stamp."""
        each = iter(fields)
        stamp = self._stamp
        for at, rid, tenant, method, route, status, seconds in zip(each, each, each, each, each, each, each,
                                                                   strict=True):
            yield stamp(at), rid, tenant, method, route, status, seconds

    def _text_lines(self, fields: list) -> str:
        return "".join([f"{at} INFO {LOGGER}: {method} {route} {status} {seconds * 1000:.2f} ms "
                        f"request_id={rid} tenant_id={tenant or '-'}\n"
                        for at, rid, tenant, method, route, status, seconds in self._requests(fields)])

    def _json_lines(self, fields: list) -> str:
        """The lines orjson would write for the requests' objects, the same text, for less (1.0 against
        1.2 µs a line in a flush of 3,000, dicts through orjson.dumps): the parts that only depend on
        (method, route, status) or on the tenant are encoded once, and each line is put together as text."""
        parts = self._parts
        tenants = self._tenants
        lines = []
        for at, rid, tenant, method, route, status, seconds in self._requests(fields):
            part = parts.get((method, route, status))
            if part is None:
                part = _parts(method, route, status)
                if len(parts) < _CACHED:  # methods are the client's: the set is bounded only here
                    parts[method, route, status] = part
            quoted = tenants.get(tenant)
            if quoted is None:
                quoted = orjson.dumps(tenant).decode()
                if len(tenants) < _CACHED:
                    tenants[tenant] = quoted
            # orjson writes round(ms, 2) in its shortest form: the two decimals, a trailing zero dropped
            # ("0.5", "1.0"; formatting rounds as round() does, correctly, and costs half as much).
            duration = f"{seconds * 1000:.2f}"
            if duration[-1] == "0":
                duration = duration[:-1]
            # Request ids need no escaping: this process's own, or a proxy's matching _GIVEN_ID.
            lines.append(f'{{"time":"{at}",{part[0]}"{rid}","tenant_id":{quoted}{part[1]}{duration}}}\n')
        return "".join(lines)


_CACHED = 1000


def _parts(method: str, route: str, status: int) -> tuple[str, str]:
    """What a JSON request line has before its request id, and between its tenant and its duration."""
    head = orjson.dumps({"level": "info", "logger": LOGGER, "message": f"{method} {route} {status}"}).decode()
    middle = orjson.dumps({"method": method, "route": route, "status": status}).decode()
    return head[1:-1] + ',"request_id":', "," + middle[1:-1] + ',"duration_ms":'


class Served(Request):
    """The request being served. Its `reply` is the `send` the app is given: it notes the answer's status
    and adds X-Request-Id. A bound method, not a callable object: CPython calls a method of a plain
    class by its fast path, an object's `__call__` by a slower one, and this runs twice a request."""

    __slots__ = ("_send", "_header")

    def __init__(self, request_id: str, send) -> None:
        self.id = request_id
        self.tenant_id = None
        self.status = None
        self._send = send
        self._header = (b"x-request-id", request_id.encode())

    def reply(self, message):
        if message["type"] == "http.response.start":
            self.status = message["status"]
            # Every sender builds this message for the one call (the header list may be shared).
            message["headers"] = [*message.get("headers", ()), self._header]
        return self._send(message)


class Requests:
    def __init__(self, app, *, route_of: Callable[[dict], str], lines: RequestLines | None,
                 proxies: TrustedProxies | None = None) -> None:
        self._app = app
        self._proxies = proxies if proxies else None  # tested once, not per request
        self._route_of = route_of
        self._lines = lines
        self._routes = metrics.REQUESTS.routes
        # Ids unique across processes and restarts without a system call per request.
        self._prefix = secrets.token_hex(4) + "-"
        self._count = itertools.count(1)

    def new_id(self, client: tuple | None, headers: list[tuple[bytes, bytes]]) -> str:
        """The request's id: a trusted proxy's own (seen before the proxy headers are applied), or a new one."""
        if self._proxies is not None:
            given = self._given_id(client, headers)
            if given:
                return given
        return f"{self._prefix}{next(self._count)}"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Served(self.new_id(scope.get("client"), scope["headers"]), send)
        CURRENT.set(request)
        try:
            await self._app(scope, receive, request.reply)
        except BaseException:
            if request.status is None:
                request.status = 500  # the server answers it
            raise
        finally:
            status = request.status
            if status is None:
                status = request.status = CLIENT_LEFT
            self.answered(scope["method"], self._route_of(scope), status, time.perf_counter() - started,
                          request.id, request.tenant_id)

    def answered(self, method: str, route: str, status: int, seconds: float, request_id: str,
                 tenant_id: str | None) -> None:
        """Count a request's answer and write its line (also for those the HTTP protocol answered itself)."""
        stats = self._routes.get(route)
        if stats is None:
            stats = self._routes[route] = metrics.RouteStats()
        if route not in STREAMS:
            stats.buckets[bisect_left(_LATENCY, seconds)] += 1  # the first bound >= seconds
            stats.sum += seconds
        answers = stats.answers
        answers[status] = answers.get(status, 0) + 1
        lines = self._lines
        if lines is not None:
            lines.add(request_id, tenant_id, method, route, status, seconds)

    def _given_id(self, client: tuple | None, headers: list[tuple[bytes, bytes]]) -> str | None:
        """The X-Request-Id of a trusted proxy."""
        if client is None or client[0] not in self._proxies:
            return None
        for name, value in headers:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                return given if _GIVEN_ID.fullmatch(given) else None
        return None
