"""The client of webhook attempts connects only to the addresses the URL check resolved and allowed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from liveloop.webhooks import client, urls
from tests.receiver import Behaviour, Receiver


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def resolved(monkeypatch):
    """Names resolved as the test says (urls' cache of answers), without asking DNS."""
    answers: dict = {}
    monkeypatch.setattr(urls, "_resolved", answers)

    def answer(host: str, port: int, addresses: list[str]) -> None:
        answers[(host, port)] = (time.monotonic() + 60, addresses)

    return answer


def send(url: str, *, allow_private: bool) -> int:
    async def go() -> int:
        session = client.new_session(allow_private=allow_private, concurrency=4, timeout_seconds=5)
        try:
            return await client.post(session, url, b'{"type":"test"}', {"content-type": "application/json"})
        finally:
            await session.close()

    return asyncio.run(go())


def test_the_connection_goes_to_the_checked_address(receiver, resolved):
    # A name nobody's DNS knows: only the resolver's answer can lead to the receiver.
    resolved("hooks.shop.test", receiver.port, ["127.0.0.1"])
    assert send(f"http://hooks.shop.test:{receiver.port}/in", allow_private=True) == 200
    [got] = receiver.at("/in")
    assert got.body == b'{"type":"test"}' and got.headers["user-agent"].startswith("liveloop-webhooks/")


def test_a_private_address_is_refused_at_connection_time_too(receiver, resolved):
    # Checked as public a moment ago, the name now answers with the loopback (DNS rebinding).
    resolved("hooks.shop.test", receiver.port, ["127.0.0.1"])
    with pytest.raises(urls.Refused):
        send(f"http://hooks.shop.test:{receiver.port}/in", allow_private=False)
    assert receiver.at("/in") == []


def test_redirects_are_answered_not_followed(receiver):
    receiver.behaviour["/moved"] = Behaviour(statuses=[302], location=receiver.url("/elsewhere"))
    assert send(receiver.url("/moved"), allow_private=True) == 302
    assert receiver.at("/elsewhere") == []


def test_the_app_imports_aiohttp_only_when_a_webhook_is_sent():
    # A fifth of a second of every process's start, with the TLS contexts it makes (webhooks/worker.py).
    probe = "import sys, liveloop.app; print('aiohttp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"
