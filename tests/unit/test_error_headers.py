"""Every 429 carries `Retry-After` (SPEC section 14), whichever part of liveloop answers it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from liveloop.app import create_app
from liveloop.kit.asgi import send_error
from liveloop.kit.errors import NotFound, TooManyRequests
from liveloop.kit.ratelimit import RateLimiter
from liveloop.realtime.hub import Hub, TooManyStreams
from liveloop.settings import Settings


@pytest.mark.parametrize(("seconds", "header"), [(0.0, "1"), (0.2, "1"), (1.0, "1"), (2.2, "3"), (59.999, "60")])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(seconds, header):
    assert TooManyRequests("slow down", retry_after=seconds).headers() == [(b"retry-after", header.encode())]


def test_other_errors_carry_no_extra_headers():
    assert NotFound("no").headers() == []


def test_the_rate_limiter_says_when_its_window_frees_up():
    limits = RateLimiter({"stream": 1})
    assert limits.retry_after(120_000) == 60.0
    assert limits.retry_after(179_500) == 0.5


def test_the_bare_handlers_sender_adds_the_header():
    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(send_error(send, TooManyStreams("at most 1"), [(b"access-control-allow-origin", b"*")]))
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 429
    assert headers[b"retry-after"] == b"10" and headers[b"access-control-allow-origin"] == b"*"


def test_a_full_viewer_or_room_is_a_429_with_retry_after():
    hub = Hub(max_streams_per_viewer=1)
    hub.subscribe(("t", "c", "u"))
    with pytest.raises(TooManyStreams) as refused:
        hub.subscribe(("t", "c", "u"))
    assert refused.value.status == 429 and refused.value.headers() == [(b"retry-after", b"10")]


def test_a_429_raised_by_a_framework_route_carries_retry_after(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))

    @app.api.get("/limited")
    async def limited() -> dict:
        raise TooManyRequests("slow down", retry_after=2.2)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://liveloop") as client:
            return await client.get("/limited")

    response = asyncio.run(call())
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "too_many_requests"
