"""The outermost ASGI layer of a served process: each request gets an id, is timed, counted and logged.

The id is returned as `X-Request-Id` and names the request in every log line written while it is
served; a trusted proxy's own id for the request (nginx's `$request_id`) is taken when it sends one,
so that its log and liveloop's name a request alike.

The route template, not the path, names a request ("/s/{code}", "/v1/campaigns/{cid}"): a small
fixed set that carries no code, token or id a client chose. The app says which template answered
(`route_of`), after the call, once FastAPI's router has matched it.

The hot paths pay a few microseconds for this (CONVENTIONS.md point 9; docs/benchmarks.md measures
it): a request leaves its fields in a list when answered, and about ten times a second `tally` counts
them into ops/metrics.py `RequestCounts` and writes their log lines, each in one loop, rather than
per request and through `logging`.
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
from bisect import bisect_left, bisect_right
from collections import Counter
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
    """The lines of answered requests, at level info of the `liveloop.request` logger, in the process's
    log format: written by `Requests.tally` about ten times a second, one write system call for all
    the requests answered since the last, encoded in one tight loop. Line by line between requests,
    the same encoding cost about three times as much event-loop time as in a loop (docs/benchmarks.md).
    """

    def __init__(self, *, json: bool, stream: BinaryIO | None = None) -> None:
        self._stream = stream
        self._stamp = Stamp()
        self._parts: dict[tuple, tuple[str, str]] = {}
        self._tenants: dict[str | None, str] = {None: "null"}
        self._durations: dict[int, str] = {}
        self._lines = self._json_lines if json else self._text_lines

    @staticmethod
    def wanted() -> bool:
        return logging.getLogger(LOGGER).isEnabledFor(logging.INFO)

    def write(self, answered: list, clock_offset: float) -> None:
        """Write the lines of `answered` (`Requests.FIELDS` each, flat); `clock_offset` turns their
        performance-counter times into wall-clock ones."""
        text = self._lines(answered, clock_offset)
        # Past the text layer of stderr, whose buffer `logging` empties after every record.
        stream = self._stream or sys.stderr.buffer
        stream.write(text.encode())
        stream.flush()

    def _requests(self, answered: list, offset: float) -> Iterator[tuple[str, str, str | None, str, str, int, float]]:
        """Each request's fields, its time replaced by its stamp."""
        each = iter(answered)
        stamp = self._stamp
        for at, rid, tenant, method, route, status, seconds in zip(each, each, each, each, each, each, each,
                                                                   strict=True):
            yield stamp(at + offset), rid, tenant, method, route, status, seconds

    def _text_lines(self, answered: list, offset: float) -> str:
        return "".join([f"{at} INFO {LOGGER}: {method} {route} {status} {seconds * 1000:.2f} ms "
                        f"request_id={rid} tenant_id={tenant or '-'}\n"
                        for at, rid, tenant, method, route, status, seconds in self._requests(answered, offset)])

    def _json_lines(self, answered: list, offset: float) -> str:
        """The lines orjson would write for the requests' objects, the same text, for less (0.67 µs a line
        in a tally of 3,000, against 1.04 with the duration formatted each time and 6.7 for each line as
        a dict through orjson.dumps with round(); best of 15, the three in one process): the parts that
        only depend on (method, route, status) or on the tenant are encoded once and kept while they
        repeat (requests come in runs of one route under load), the time's text made once per
        millisecond, the duration's once per hundredth of a millisecond, and each line is put together
        as text. The duration is
        rounded half up from its float, where orjson's round(ms, 2) rounds the exact binary value: the
        two differ by 0.01 on a tie or within a float's error of one (0.125 ms is 0.13 here, 0.12 there)."""
        parts, tenants, durations, stamp = self._parts, self._tenants, self._durations, self._stamp
        lines: list[str] = []
        append = lines.append
        method_was = route_was = status_was = part = None
        tenant_was = quoted = None
        milli_was, at_text = -1, ""
        step = Requests.FIELDS
        for at, rid, tenant, method, route, status, seconds in zip(
                answered[0::step], answered[1::step], answered[2::step], answered[3::step], answered[4::step],
                answered[5::step], answered[6::step], strict=True):
            at += offset
            milli = int(at * 1000)
            if milli != milli_was:
                milli_was, at_text = milli, stamp(at)
            if status != status_was or route != route_was or method != method_was:
                method_was, route_was, status_was = method, route, status
                part = parts.get((method, route, status))
                if part is None:
                    part = _parts(method, route, status)
                    if len(parts) < _CACHED:  # methods are the client's: the set is bounded only here
                        parts[method, route, status] = part
            if tenant != tenant_was or quoted is None:
                tenant_was = tenant
                quoted = tenants.get(tenant)
                if quoted is None:
                    quoted = orjson.dumps(tenant).decode()
                    if len(tenants) < _CACHED:
                        tenants[tenant] = quoted
            # round(ms, 2) as orjson writes it ("0.5", "1.23"), the text kept per hundredth of a millisecond
            # below 100 ms: looking it up costs a fifth of formatting it (0.13 against 0.65 µs, timeit).
            hundredths = int(seconds * 100_000.0 + 0.5)
            duration = durations.get(hundredths)
            if duration is None:
                duration = repr(hundredths / 100)
                if hundredths < _DURATIONS_CACHED:
                    durations[hundredths] = duration
            # Request ids need no escaping: this process's own, or a proxy's matching _GIVEN_ID.
            append(f'{{"time":"{at_text}",{part[0]}"{rid}","tenant_id":{quoted}{part[1]}{duration}}}\n')  # type: ignore[index]
        return "".join(lines)


_CACHED = 1000
_DURATIONS_CACHED = 10_000  # hundredths of a millisecond: the texts of durations under 100 ms


def _add_latencies(stats: metrics.RouteStats, ordered: list[float]) -> None:
    """Add latencies (in ascending order) to a route's buckets and sum: each in the bucket of the first
    bound at or above it, as `bisect_left(_LATENCY, seconds)` would say one by one."""
    buckets = stats.buckets
    below = 0
    for index, bound in enumerate(_LATENCY):
        upto = bisect_right(ordered, bound)  # latencies <= bound
        buckets[index] += upto - below
        below = upto
    buckets[-1] += len(ordered) - below
    stats.sum += sum(ordered)


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
    """The request layer: ids, and each answered request's counts and log line.

    A request only leaves its fields in a flat list when it is answered (`answered`, seven appended in
    one step); about ten times a second (`TALLY_SECONDS`), or sooner when `MAX_PENDING` wait, `tally`
    counts them into the metrics and writes their lines, in one loop each. That costs the hot paths
    less than counting and logging each request as it ends (docs/benchmarks.md). `tally` is also run
    before a scrape (so that /metrics is current), at shutdown, by the watchdog, and before any other
    log record is written (ops/logging.py `write_before_records`): a notable event is written at once,
    after the request lines that came before it.
    """

    TALLY_SECONDS = 0.1
    MAX_PENDING = 10_000  # requests: about 2 MB of JSON lines, written before the interval ends
    FIELDS = 7  # a request's in `_answered`: its end (performance counter), id, tenant, method, route, status, seconds

    def __init__(self, app, *, route_of: Callable[[dict], str], lines: RequestLines | None,
                 proxies: TrustedProxies | None = None) -> None:
        self._app = app
        self._proxies = proxies if proxies else None  # tested once, not per request
        self._route_of = route_of
        self._lines = lines
        self._routes = metrics.REQUESTS.routes
        metrics.REQUESTS.tallied_by(self)
        # Ids unique across processes and restarts without a system call per request.
        self._prefix = secrets.token_hex(4) + "-"
        self._count = itertools.count(1)
        # The fields of the requests answered since the last tally, flat. Appended on the event loop and
        # taken by a tally there or in another thread (a scrape, a record, the end of the process): each
        # append is one C-level step under the GIL, and a tally takes and removes only what it saw, so the
        # two need no lock. Plain values, none of them an object the garbage collector tracks.
        self._answered: list = []
        self._timer: asyncio.TimerHandle | None = None  # touched on the event loop only
        # One tally at a time: lines keep their order. Re-entrant: a garbage collection between taking it
        # and naming the tallier may run a finalizer that logs, which tallies on this thread.
        self._tallying = threading.RLock()
        self._tallier: int | None = None  # the thread running a tally

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
            self.answered(scope["method"], self._route_of(scope), status, started, request.id, request.tenant_id)

    def answered(self, method: str, route: str, status: int, started: float, request_id: str,
                 tenant_id: str | None) -> None:
        """A request was answered (`started` by the performance counter); also for those the HTTP protocol
        answered itself. Called on the event loop."""
        ended = time.perf_counter()
        answered = self._answered
        answered.extend((ended, request_id, tenant_id, method, route, status, ended - started))
        if self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.TALLY_SECONDS, self._due)
            except RuntimeError:  # no event loop in this thread (a test driving the layer by hand): at once
                self.tally()
        elif len(answered) >= self.MAX_PENDING * self.FIELDS:
            self.tally()

    def _due(self) -> None:
        self._timer = None
        self.tally()

    def tally(self) -> None:
        """Count the requests answered since the last tally and write their lines (from any thread)."""
        if self._tallier == threading.get_ident():
            # A finalizer run by a garbage collection during this thread's own tally logged a record: it is
            # written before the lines of this tally, rather than wait for itself.
            return
        # Taken even with nothing waiting: a record logged on another thread during a tally is written after
        # the lines that tally took.
        with self._tallying:
            self._tallier = threading.get_ident()
            try:
                answered = self._answered
                taken = answered[:]
                if not taken:
                    return  # nothing new, or another tally took them while this one waited for the lock
                del answered[:len(taken)]  # what was appended meanwhile stays, for the next tally
                clock_offset = time.time() - time.perf_counter()
                self._count_answers(taken)
                if self._lines is not None:
                    self._lines.write(taken, clock_offset)
            finally:
                self._tallier = None

    def _count_answers(self, taken: list) -> None:
        """Count the answers into the metrics: by route, status and latency bucket."""
        routes = self._routes
        step = self.FIELDS
        paths = taken[4::step]
        first = paths[0]
        if paths.count(first) == len(paths):
            # A tenth of a second of one route (a burst of share links): counted with C-level steps.
            stats = routes.get(first)
            if stats is None:
                stats = routes[first] = metrics.RouteStats()
            answers = stats.answers
            for status, count in Counter(taken[5::step]).items():
                answers[status] = answers.get(status, 0) + count
            if first not in STREAMS:
                _add_latencies(stats, sorted(taken[6::step]))
            return
        last_route: str | None = None
        stats = metrics.RouteStats()  # replaced at the first request
        timed = False
        for route, status, seconds in zip(paths, taken[5::step], taken[6::step], strict=True):
            if route != last_route:  # requests come in runs of one route under load
                stats = routes.get(route)
                if stats is None:
                    stats = routes[route] = metrics.RouteStats()
                last_route, timed = route, route not in STREAMS
            if timed:
                stats.buckets[bisect_left(_LATENCY, seconds)] += 1  # the first bound >= seconds
                stats.sum += seconds
            answers = stats.answers
            answers[status] = answers.get(status, 0) + 1

    def _given_id(self, client: tuple | None, headers: list[tuple[bytes, bytes]]) -> str | None:
        """The X-Request-Id of a trusted proxy."""
        if client is None or client[0] not in self._proxies:
            return None
        for name, value in headers:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                return given if _GIVEN_ID.fullmatch(given) else None
        return None
