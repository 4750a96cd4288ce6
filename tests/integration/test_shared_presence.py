"""The presence book and the Agora notice order on a real Redis, as several processes share them.

Each test builds two books (or clocks) on one Redis, as two `liveloop serve` processes would, and a
campaign of its own (tenant ids are random), so runs do not see each other's keys.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from liveloop.integrations.agora import SequenceClock, SharedSequenceClock
from liveloop.rooms import shared_presence
from liveloop.rooms.presence import PresenceBook
from liveloop.rooms.shared_presence import SharedPresenceBook
from tests.proxy import CuttableProxy

pytestmark = pytest.mark.service

# Now-ish, so that the index of the shared Redis forgets these campaigns in a few hours.
T0 = int(time.time()) * 1000
TIMEOUT = 90_000


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    if not url:
        pytest.skip("LIVELOOP_TEST_REDIS_URL is not set")
    return url


def campaign() -> tuple[str, str]:
    return f"tn_{uuid.uuid4().hex[:20]}", "live"


async def books(url: str, n: int = 2, **kwargs) -> list[SharedPresenceBook]:
    found = [SharedPresenceBook(url, **kwargs) for _ in range(n)]
    for book in found:
        await book.start()
    return found


async def close(*things) -> None:
    for thing in things:
        await thing.close()


def test_beats_on_two_processes_see_each_other(redis_url):
    async def scenario():
        one, two = await books(redis_url)
        try:
            key = (*campaign(), "siti")
            assert await one.beat(key, T0) is None
            assert await two.beat(key, T0 + 30_000) == T0  # the beat the other process took
            assert await one.beat(key, T0 + 60_000) == T0 + 30_000
            assert await two.beating(key[:2], ["siti", "budi"]) == {"siti"}
        finally:
            await close(one, two)

    asyncio.run(scenario())


def test_concurrent_beats_of_one_viewer_each_see_the_one_before(redis_url):
    async def scenario():
        one, two = await books(redis_url)
        try:
            key = (*campaign(), "siti")
            seen = await asyncio.gather(*[(one if i % 2 else two).beat(key, T0 + i) for i in range(40)])
            # Read-and-set is atomic: every answer is a distinct earlier beat, only one saw none.
            assert seen.count(None) == 1
            assert len({s for s in seen if s is not None}) == 39
        finally:
            await close(one, two)

    asyncio.run(scenario())


def test_a_silent_viewer_is_claimed_by_exactly_one_process(redis_url):
    async def scenario():
        one, two = await books(redis_url)
        try:
            tenant_campaign = campaign()
            for i, user in enumerate(["a", "b", "c"]):
                await (one if i % 2 else two).beat((*tenant_campaign, user), T0 + i)
            await one.beat((*tenant_campaign, "fresh"), T0 + TIMEOUT)
            now = T0 + TIMEOUT + 10
            before = now - TIMEOUT
            assert tenant_campaign in await two.campaigns_due(before, now)
            first, second = await asyncio.gather(one.claim(tenant_campaign, before, now),
                                                 two.claim(tenant_campaign, before, now))
            claimed = sorted([c.user_id for c in first] + [c.user_id for c in second])
            assert claimed == ["a", "b", "c"]  # each once; "fresh" is not silent
            claims = first + second
            assert {c.user_id: c.last for c in claims} == {"a": T0, "b": T0 + 1, "c": T0 + 2}
            for book, mine in ((one, first), (two, second)):
                await book.settle(tenant_campaign, mine, logged=True)
            assert await one.claim(tenant_campaign, before, now + 600_000) == []  # settled: gone
            assert await one.beating(tenant_campaign, ["a", "b", "c", "fresh"]) == {"fresh"}
        finally:
            await close(one, two)

    asyncio.run(scenario())


def test_a_claim_whose_sweeper_died_is_claimed_again_after_its_lease(redis_url):
    async def scenario():
        one, two = await books(redis_url, lease_ms=5_000)
        try:
            tc = campaign()
            await one.beat((*tc, "siti"), T0)
            now = T0 + TIMEOUT + 1
            (claim,) = await one.claim(tc, now - TIMEOUT, now)  # and then process one is killed
            assert await two.claim(tc, now - TIMEOUT, now + 1_000) == []  # the lease holds
            assert tc in await two.campaigns_due(now - TIMEOUT, now + 6_000)
            (again,) = await two.claim(tc, now - TIMEOUT, now + 6_000)
            assert (again.user_id, again.last) == ("siti", T0)
            await two.settle(tc, [again], logged=True)
            assert await two.claim(tc, now - TIMEOUT, now + 60_000) == []
        finally:
            await close(one, two)

    asyncio.run(scenario())


def test_a_claimed_viewer_that_beats_again_sees_its_last_beat_and_unlogged_claims_go_back(redis_url):
    async def scenario():
        one, two = await books(redis_url)
        try:
            tc = campaign()
            await one.beat((*tc, "siti"), T0)
            now = T0 + TIMEOUT + 1
            (claim,) = await one.claim(tc, now - TIMEOUT, now)
            # Beating while the sweeper logs its timeout: the beat knows it was silent since T0.
            assert await two.beat((*tc, "siti"), now + 5) == T0
            await one.settle(tc, [claim], logged=True)
            assert await one.beat((*tc, "siti"), now + 10) == now + 5

            await one.beat((*tc, "budi"), T0)
            (claim,) = await two.claim(tc, now - TIMEOUT, now)
            assert claim.user_id == "budi"
            await two.settle(tc, [claim], logged=False)  # the database refused the timeout
            (again,) = await one.claim(tc, now - TIMEOUT, now)
            assert (again.user_id, again.last) == ("budi", T0)  # the next sweep tries again
        finally:
            await close(one, two)

    asyncio.run(scenario())


def test_beats_taken_while_redis_is_away_fall_back_to_the_process_and_merge_back(redis_url, monkeypatch):
    monkeypatch.setattr(shared_presence, "MERGE_CHUNK", 2)  # merged back in several parts
    target = urlsplit(redis_url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 6379)
    cut_url = urlunsplit(target._replace(netloc=f"127.0.0.1:{proxy.port}"))

    async def scenario():
        (flaky,) = await books(cut_url, 1)
        (steady,) = await books(redis_url, 1)
        try:
            tc = campaign()
            key = (*tc, "siti")
            assert await flaky.beat(key, T0) is None
            proxy.cut()
            # Answered from this process's memory, quickly, without an error.
            assert await flaky.beat(key, T0 + 30_000) is None
            assert await flaky.beat(key, T0 + 60_000) == T0 + 30_000
            assert await flaky.beating(tc, ["siti"]) == {"siti"}
            for i, other in enumerate(("ana", "bo", "cy")):
                assert await flaky.beat((*tc, other), T0 + 61_000 + i) is None
            proxy.restore()
            await asyncio.sleep(2.1)  # the guard leaves Redis alone for two seconds after a failure
            # Back: the beats taken meanwhile are merged first (latest wins), and every process sees them.
            assert tc not in await flaky.campaigns_due(T0 + 60_000, T0 + 60_000)
            assert await steady.beat(key, T0 + 90_000) == T0 + 60_000
            for i, other in enumerate(("ana", "bo", "cy")):
                assert await steady.beat((*tc, other), T0 + 90_000) == T0 + 61_000 + i
            assert await flaky.claim(tc, T0 + 1, T0 + 90_001) == []
        finally:
            await close(flaky, steady)

    asyncio.run(scenario())


def test_the_local_book_gives_back_claims_that_were_not_logged():
    async def scenario():
        book = PresenceBook()
        tc = campaign()
        await book.beat((*tc, "siti"), T0)
        assert await book.campaigns_due(T0 + 1, T0 + 1) == [tc]
        (claim,) = await book.claim(tc, T0 + 1, T0 + 1)
        assert await book.campaigns_due(T0 + 1, T0 + 1) == []
        await book.settle(tc, [claim], logged=False)
        assert [c.user_id for c in await book.claim(tc, T0 + 1, T0 + 1)] == ["siti"]

    asyncio.run(scenario())


def test_agora_notices_of_one_user_on_two_processes_keep_their_clientseq_order(redis_url):
    async def scenario():
        one, two = SharedSequenceClock(redis_url), SharedSequenceClock(redis_url)
        await one.start()
        await two.start()
        try:
            user = (f"int_{uuid.uuid4().hex[:12]}", "channel", "42")
            second = T0 // 1000 * 1000
            # A leave (seq 2) and a re-join (seq 3) in the same second, delivered newest first to
            # different processes, then the join (seq 1) late: the times follow the sequence.
            rejoin = await one.order(user, 3, second)
            leave = await two.order(user, 2, second)
            join = await one.order(user, 1, second)
            assert join < leave < rejoin
            assert second - 1 <= join and rejoin < second + 1000
            assert await two.order(user, 2, second) == leave  # a retry lands where it landed
            # The same arrivals in one process's memory give the same times.
            local = SequenceClock()
            assert [local.place(user, s, second) for s in (3, 2, 1)] == [rejoin, leave, join]
        finally:
            await close(one, two)

    asyncio.run(scenario())
