"""Redis's copy of a leaderboard (leaderboards/shared.py) against the engine's own, on a real Redis.

Several "processes" derive the same board from one log and take turns writing it, as they do under
the campaign lock; whatever the turns, restarts of Redis and outages, the copy read back from Redis
equals the engine's board in the SPEC's order.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import uuid
from contextlib import asynccontextmanager
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveloop.engine.leaderboard import Leaderboard
from liveloop.leaderboards import shared
from liveloop.leaderboards.shared import Keys, RedisLeaderboards
from tests.proxy import CuttableProxy

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("LIVELOOP_TEST_REDIS_URL")
    if not url:
        pytest.skip("LIVELOOP_TEST_REDIS_URL is not set")
    return url


class Process:
    """One process's view of a campaign: its own derived board, log position and last write."""

    def __init__(self, campaign_id: str) -> None:
        board = Leaderboard()
        board.track_changes(1)
        self.live = SimpleNamespace(state=SimpleNamespace(leaderboard=board, last_seq=0,
                                                          config=SimpleNamespace(id=campaign_id)),
                                    board_seq=0, board_rebuild=None)
        self.applied = 0

    def catch_up(self, log: list[tuple[str, int, int]]) -> None:
        """Apply the log's entries not applied yet, each at its log position (as events/live.py does)."""
        board = self.live.state.leaderboard
        for seq, (user_id, score, reached_at) in enumerate(log[self.applied:], start=self.applied + 1):
            board.change_seq = seq
            board.update(user_id, score, reached_at)
        self.applied = self.live.state.last_seq = len(log)
        board.change_seq = len(log) + 1


def random_log(*, seed: int, users: int, n: int) -> list[tuple[str, int, int]]:
    """Leaderboard updates (user, score 0-9, reached at): many users seen more than once."""
    rng = random.Random(seed)
    return [(f"u{rng.randrange(users)}", rng.randint(0, 9), rng.randrange(10**6)) for _ in range(n)]


def run(coro):
    return asyncio.run(coro)


@asynccontextmanager
async def connected(redis_url: str, tenant: str, cid: str):
    """The boards under test and a plain client to play Redis's part (restarts, failovers)."""
    raw = aioredis.from_url(redis_url)
    boards = RedisLeaderboards(redis_url)
    try:
        yield boards, raw
    finally:
        await raw.delete(*vars_of(Keys(tenant, cid)))
        await boards.close()
        await raw.aclose()


async def everything(boards: RedisLeaderboards, tenant: str, cid: str) -> list | None:
    return await boards.top(tenant, cid, 10**6)


updates = st.lists(
    st.tuples(st.sampled_from(["ana", "bo", "émile", "zoë", "u1", "u10", "u2", "中"]),
              st.integers(0, 4), st.integers(-10**12, 10**13)),
    min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=updates, turns=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 8), st.booleans()), min_size=1),
       flush_at=st.integers(-1, 10), snapshot_at=st.integers(-1, 10), failover_at=st.integers(-1, 10))
def test_the_copy_equals_the_engine_whatever_process_writes_when(redis_url, monkeypatch, log, turns, flush_at,
                                                                 snapshot_at, failover_at):
    """Processes take turns (a turn without a write is a process killed before it), Redis may lose
    everything (a restart) or go back to an earlier state (a failover to a replica that lagged).
    Writes go in parts of three entries, as large ones do."""
    monkeypatch.setattr(shared, "UPDATE_CHUNK", 3)
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-prop"

    async def scenario():
        async with connected(redis_url, tenant, cid) as (boards, raw):
            procs = [Process(cid) for _ in range(3)]
            written = 0
            for turn, (who, steps, publishes) in enumerate(turns):
                written = min(len(log), written + steps)
                proc = procs[who]
                proc.catch_up(log[:written])  # under the lock: at the head, then its own events
                if turn == snapshot_at:
                    snapshot = await dump(raw, Keys(tenant, cid))
                if turn == failover_at and turn > snapshot_at >= 0:
                    await restore(raw, Keys(tenant, cid), snapshot)
                if turn == flush_at:
                    await raw.delete(*vars_of(Keys(tenant, cid)))  # Redis restarted
                if publishes:
                    await boards.publish(tenant, proc.live)
            # the last writer leaves the copy at the head, whatever came before
            last = procs[turns[-1][0]]
            last.catch_up(log)
            await boards.publish(tenant, last.live, check=True)
            truth = Leaderboard()
            for user_id, score, reached_at in log:
                truth.update(user_id, score, reached_at)
            assert await everything(boards, tenant, cid) == truth.top(10**6)
            assert await boards.position(tenant, cid) == len(log)

    run(scenario())


async def dump(raw, keys: Keys) -> dict:
    return {key: await raw.dump(key) for key in (keys.z, keys.m, keys.seq)}


async def restore(raw, keys: Keys, snapshot: dict) -> None:
    await raw.delete(keys.z, keys.m, keys.seq)
    for key, value in snapshot.items():
        if value is not None:
            await raw.restore(key, 0, value, replace=True)


def vars_of(keys: Keys) -> list[str]:
    return [keys.z, keys.m, keys.seq, keys.built_z, keys.built_m]


def test_ties_are_ordered_by_time_then_user_id(redis_url):
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-ties"

    async def scenario():
        async with connected(redis_url, tenant, cid) as (boards, raw):
            proc = Process(cid)
            board = proc.live.state.leaderboard
            for user_id, score, at in [("b", 3, 50), ("a", 3, 50), ("c", 3, 40), ("d", 5, 90), ("e", 1, -5),
                                       ("f", 1, -4), ("g", 0, 1)]:
                board.update(user_id, score, at)
            proc.live.state.last_seq = 7
            await boards.publish(tenant, proc.live)
            assert await everything(boards, tenant, cid) == [
                (1, "d", 5), (2, "c", 3), (3, "a", 3), (4, "b", 3), (5, "e", 1), (6, "f", 1)]
            assert await boards.top(tenant, cid, 2) == [(1, "d", 5), (2, "c", 3)]

    run(scenario())


def test_a_large_catch_up_is_rebuilt_and_swapped_in(redis_url, monkeypatch):
    monkeypatch.setattr(shared, "REBUILD_CHUNK", 700)
    monkeypatch.setattr(shared, "INLINE_REBUILD", 10**6)  # sent under the lock, as a small board is
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-big"
    log = random_log(seed=5, users=30_000, n=40_000)

    async def scenario():
        async with connected(redis_url, tenant, cid) as (boards, raw):
            proc = Process(cid)
            proc.catch_up(log[:10])
            await boards.publish(tenant, proc.live)
            proc.catch_up(log)  # far more changed users than a write is given
            assert len(proc.live.state.leaderboard.changed) > shared.MAX_INCREMENTAL
            await boards.publish(tenant, proc.live)
            assert proc.live.board_rebuild is None
            assert await everything(boards, tenant, cid) == proc.live.state.leaderboard.top(10**6)
            assert await raw.keys(f"liveloop:lb:{{{tenant}:{cid}}}:*build*") == []

    run(scenario())


def test_a_large_board_is_rebuilt_aside_while_the_log_moves_on(redis_url, monkeypatch):
    """Two processes find the copy gone and each sends its board aside, while events keep coming:
    neither write is lost, an older rebuild never replaces a newer copy, and the changes made
    meanwhile follow with the next write."""
    monkeypatch.setattr(shared, "REBUILD_CHUNK", 500)
    monkeypatch.setattr(shared, "INLINE_REBUILD", 1_000)
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-aside"
    log = random_log(seed=8, users=8_000, n=20_000)

    async def scenario():
        async with connected(redis_url, tenant, cid) as (boards, raw):
            one, two = Process(cid), Process(cid)
            one.catch_up(log[:15_000])
            await boards.publish(tenant, one.live)  # no copy yet: sent aside
            first = one.live.board_rebuild
            assert first is not None
            two.catch_up(log[:17_000])
            await boards.publish(tenant, two.live)  # the copy is not there yet: also aside, newer
            one.catch_up(log[:19_000])
            await boards.publish(tenant, one.live)  # its rebuild is on its way: nothing sent now
            await asyncio.gather(first, two.live.board_rebuild)
            assert await boards.position(tenant, cid) == 17_000
            one.catch_up(log)
            await boards.publish(tenant, one.live)  # what changed since its snapshot, at once
            assert one.live.board_rebuild is None
            assert await everything(boards, tenant, cid) == one.live.state.leaderboard.top(10**6)
            assert await boards.position(tenant, cid) == len(log)
            assert await raw.keys(f"liveloop:lb:{{{tenant}:{cid}}}:*build*") == []

    run(scenario())


def test_no_copy_reads_as_none_and_a_lost_copy_is_rebuilt_on_check(redis_url):
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-lost"

    async def scenario():
        async with connected(redis_url, tenant, cid) as (boards, raw):
            proc = Process(cid)
            assert await boards.top(tenant, cid, 10) is None  # the caller ranks from its own state
            assert await boards.position(tenant, cid) == -1
            proc.catch_up([("a", 2, 1), ("b", 1, 2)])
            await boards.publish(tenant, proc.live)
            await raw.delete(*vars_of(Keys(tenant, cid)))  # Redis restarted, nothing new since
            await boards.publish(tenant, proc.live)  # nothing happened here: no write at all
            assert await boards.position(tenant, cid) == -1
            await boards.publish(tenant, proc.live, check=True)
            assert await boards.top(tenant, cid, 10) == [(1, "a", 2), (2, "b", 1)]

    run(scenario())


def test_redis_away_costs_one_timeout_then_the_changes_are_written_later(redis_url):
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-away"

    async def scenario():
        raw = aioredis.from_url(redis_url)
        import time

        away = RedisLeaderboards("redis://127.0.0.1:1/0")  # nothing listens there
        proc = Process(cid)
        proc.catch_up([("a", 2, 1)])
        started = time.monotonic()
        await away.publish(tenant, proc.live)  # logged, not raised: the log stays the truth
        assert await away.top(tenant, cid, 10) is None
        assert time.monotonic() - started < 1.5  # one short timeout, then Redis is left alone
        assert proc.live.board_seq == 0 and proc.live.state.leaderboard.changed == {"a": 1}
        await away.close()

        back = RedisLeaderboards(redis_url)  # the same process once Redis answers again
        try:
            proc.catch_up([("a", 2, 1), ("b", 3, 2)])
            await back.publish(tenant, proc.live)
            assert await back.top(tenant, cid, 10) == [(1, "b", 3), (2, "a", 2)]
        finally:
            await raw.delete(*vars_of(Keys(tenant, cid)))
            await back.close()
            await raw.aclose()

    run(scenario())


def test_a_copy_gone_back_in_time_is_rebuilt_not_patched(redis_url):
    """A failover to a replica that missed the last writes: the copy is older than this process's
    last write, so the users this process changed since are not all that differ."""
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-back"
    log = [("a", 1, 1), ("b", 1, 2), ("c", 4, 3), ("d", 2, 4)]

    async def scenario():
        async with connected(redis_url, tenant, cid) as (boards, raw):
            proc = Process(cid)
            keys = Keys(tenant, cid)
            proc.catch_up(log[:2])
            await boards.publish(tenant, proc.live)
            snapshot = await dump(raw, keys)
            proc.catch_up(log[:3])
            await boards.publish(tenant, proc.live)  # "c" written, then lost with the failover
            await restore(raw, keys, snapshot)
            proc.catch_up(log)
            await boards.publish(tenant, proc.live)
            assert await everything(boards, tenant, cid) == [(1, "c", 4), (2, "d", 2), (3, "a", 1), (4, "b", 1)]

    run(scenario())


def test_a_rebuild_swapped_in_between_the_parts_of_a_write_is_noticed(redis_url, monkeypatch):
    """Another process's rebuild (from an older snapshot) lands between two parts of this write:
    the rest of the write refuses, and the board is rebuilt from this process's state instead of
    being left half old."""
    monkeypatch.setattr(shared, "UPDATE_CHUNK", 2)
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-parts"
    # The first two users changed after position 20 (the first part of the write) change again
    # after 30, so the older snapshot holds stale entries for exactly them.
    log = [*random_log(seed=3, users=40, n=20), ("p1", 3, 21), ("p2", 2, 22), *random_log(seed=4, users=40, n=8),
           ("p1", 7, 31), ("p2", 9, 32), *random_log(seed=5, users=40, n=18)]
    target = urlsplit(redis_url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 6379)
    through = urlunsplit(target._replace(netloc=f"127.0.0.1:{proxy.port}"))

    async def scenario():
        async with connected(through, tenant, cid) as (boards, raw):
            one, two = Process(cid), Process(cid)
            one.catch_up(log[:20])
            await boards.publish(tenant, one.live)
            two.catch_up(log[:30])
            two.live.board_seq = None  # a process that finds the copy unusable rebuilds it whole
            one.catch_up(log)

            def other_process_rebuilds(reply: bytes) -> None:
                # The first part of this process's write has just been applied (Redis answered 1).
                if reply == b":1\r\n":
                    proxy.before_reply = None
                    asyncio.run(publish_alone(redis_url, tenant, two.live))

            proxy.before_reply = other_process_rebuilds
            await boards.publish(tenant, one.live)
            assert proxy.before_reply is None, "the write went in one part: nothing landed in between"
            assert await everything(boards, tenant, cid) == one.live.state.leaderboard.top(10**6)
            assert await boards.position(tenant, cid) == len(log)

    run(scenario())


async def publish_alone(redis_url: str, tenant: str, live) -> None:
    """What another process writes, on a connection of its own."""
    boards = RedisLeaderboards(redis_url)
    try:
        await boards.publish(tenant, live)
    finally:
        await boards.close()


def entries_sent(proxy: CuttableProxy) -> list[str]:
    """The users whose entries a write sent, read from the bytes it sent (one "user TAB score TAB
    member" line each)."""
    return [m.decode() for m in re.findall(rb"([^\t\n\r$*]+)\t-?\d+\t(?:\d{16}:[^\n]*)?\n", bytes(proxy.sent))]


def test_a_process_that_mostly_catches_up_sends_only_what_the_copy_lacks(redis_url, monkeypatch):
    """Changes a process learned from others' events are already in the copy: however many, they
    are not sent again, and they do not turn a small write into a rebuild."""
    monkeypatch.setattr(shared, "MAX_INCREMENTAL", 20)
    tenant, cid = "tn_" + uuid.uuid4().hex[:8], "c-reader"
    log = [(f"u{i}", 1 + i % 7, i) for i in range(500)]
    target = urlsplit(redis_url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 6379)
    through = urlunsplit(target._replace(netloc=f"127.0.0.1:{proxy.port}"))

    async def scenario():
        async with connected(through, tenant, cid) as (boards, raw):
            writer, reader = Process(cid), Process(cid)
            writer.catch_up(log[:400])
            await boards.publish(tenant, writer.live)
            reader.catch_up(log[:400])  # 400 changed users, all in the copy already
            reader.catch_up(log[:405])  # and 5 the copy lacks: this process logs them
            proxy.recording = True
            await boards.publish(tenant, reader.live)
            proxy.recording = False
            assert entries_sent(proxy) == ["u400", "u401", "u402", "u403", "u404"]
            assert b":build" not in proxy.sent  # no board built aside and swapped in: no rebuild
            truth = Leaderboard()
            for user_id, score, at in log[:405]:
                truth.update(user_id, score, at)
            assert await everything(boards, tenant, cid) == truth.top(10**6)

    run(scenario())
