"""The outermost ASGI layer of a served process: each request timed and counted by route template.

The route template, not the path, names a request ("/s/{code}", "/v1/campaigns/{cid}"): it is a
small fixed set, and it carries no code, token or id a client chose. The app says which template
answered (`route_of`), after the call, when FastAPI's router has matched it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram

from liveloop.ops import metrics

# Streams last minutes: their duration would say nothing about latency (metrics.OPEN_STREAMS counts them).
STREAMS = frozenset({"/v1/stream", "/v1/campaigns/{cid}/room-stream"})
CLIENT_LEFT = 499  # no answer was started: the client went away first (nginx's code for it)


class Requests:
    def __init__(self, app, *, route_of: Callable[[dict], str]) -> None:
        self._app = app
        self._route_of = route_of
        self._latency: dict[str, Histogram] = {}
        self._answers: dict[tuple[str, int], Counter] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = CLIENT_LEFT

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_status)
        except BaseException:
            if status == CLIENT_LEFT:
                status = 500  # the server answers it
            raise
        finally:
            self._done(self._route_of(scope), status, time.perf_counter() - started)

    def _done(self, route: str, status: int, seconds: float) -> None:
        # One histogram observation and one increment per request, their label children cached.
        if route not in STREAMS:
            latency = self._latency.get(route)
            if latency is None:
                latency = self._latency[route] = metrics.REQUEST_SECONDS.labels(route)
            latency.observe(seconds)
        answers = self._answers.get((route, status))
        if answers is None:
            answers = self._answers[(route, status)] = metrics.RESPONSES.labels(route, str(status))
        answers.inc()
