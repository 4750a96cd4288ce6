"""Leaderboards in Redis, for several processes (SPEC 7: "Redis: leaderboards").

Every process derives a campaign's leaderboard from the shared event log (events/live.py), so
each can rank a viewer for its own stream messages. Redis holds one more copy, written only from
such a derived state, that any process reads with one round trip and without loading or
catching up the campaign: `GET /v1/campaigns/{cid}/leaderboard` on a process that never saw the
campaign does not replay its log.

Keys, hash-tagged so that a Redis Cluster keeps one campaign's keys in one slot:
- `liveloop:lb:{tenant:campaign}:z`: sorted set, score = -metric, member =
  `<reached_at + 10^15 as 16 digits>:<user_id>`;
- `...:m`: hash, user_id -> that user's current member (to move a user, its old member is removed);
- `...:seq`: the position in the event log that the copy reflects.

The SPEC's order (highest score first, then who reached it first, then user_id) is then Redis's own
order: score ascending, then member bytewise ascending (fixed-width digits, and UTF-8 byte order is
code point order). Scores are exact: a metric stays far below 2^53.

Consistency. The copy is written only under the campaign's lock (LiveCampaigns.hold), by a process
whose state has just been caught up with the log and whose own events are committed: what it writes
is the truth at the log's head. A process remembers the position of its last write (`board_seq`)
and, for each user whose entry changed since, the log position of that change
(`Leaderboard.changed`). It reads the copy's position first: if the copy is at or after its last
write, the users changed after the copy's position are all that can differ, and scripts of 100
entries update them; otherwise (Redis restarted, keys expired, a failover lost writes) the copy is
marked missing and the whole board is rebuilt from the state and swapped in at once. A process
killed between its commit and its Redis write leaves the copy behind the log: the client resends
the unacknowledged batch, and the process that takes it writes the copy; the other processes with
the campaign loaded also repair it from their catch-up poll (fanout.py).

Redis unreachable: writes are skipped (the changed users are kept for the next write) and reads
answer None, so the caller ranks from its own state; the guard (kit/redis_guard.py) then leaves
Redis alone for a moment, so an outage costs one short timeout, not one per request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

from liveloop.engine.leaderboard import Leaderboard
from liveloop.kit.redis_guard import RedisAway, RedisGuard

if TYPE_CHECKING:
    from liveloop.events.live import LiveCampaign

log = logging.getLogger("liveloop.leaderboards")

# An idle copy expires: a campaign's board is rebuilt by its next write, read from state until then.
TTL_MS = 30 * 24 * 3_600_000
# Past this many changed users (a long catch-up), a rebuild is cheaper than many scripts.
MAX_INCREMENTAL = 5_000
# Entries per script: Redis serves nobody else while one runs (about 15 µs an entry on a 1M board
# here), so a write is sent in parts and reads slip in between; a reader may then see part of a
# batch's changes, each entry true at the log's head. A read waits at most for one part: with 25
# (about 0.3 ms) the top-50 read stays under SPEC 8's 2 ms p99 at 20,000 updates/s, with 100 it did
# not; a batch of the bench's stream changes about 130 users, so 25 costs it a few round trips
# (docs/benchmarks.md, the Redis leaderboard).
UPDATE_CHUNK = 25
REBUILD_CHUNK = 2_000
# Up to this many entries a rebuild is sent under the campaign's lock (a fraction of a second);
# a larger board is sent by a task of its own, so the campaign's ingestion does not wait for it.
INLINE_REBUILD = 20_000
_AT_OFFSET = 10**15  # years 0001..9999 in ms since the epoch all fit in 16 digits after the offset

# Entries travel packed in one argument, "user_id TAB score TAB member LF" each (an empty member
# removes the user): user ids hold no control characters (kit/ids.py), and one string costs far
# less to send from Python than three arguments an entry.
_ENTRIES = r"([^\t\n]*)\t([^\t\n]*)\t([^\n]*)\n"

# Applies changed entries if the copy is still at the position the writer read before its first
# part (a rebuild swapped in by another process between two parts makes the rest refuse); 0 if not.
# KEYS: z, m, seq; ARGV: position read, head, ttl, entries, and "1" on the last part of a write,
# which then moves the copy's position to `head`.
_UPDATE = """
local cur = tonumber(redis.call('GET', KEYS[3]))
if cur == nil or cur ~= tonumber(ARGV[1]) then return 0 end
for user, score, name in string.gmatch(ARGV[4], '""" + _ENTRIES + """') do
  local old = redis.call('HGET', KEYS[2], user)
  if old then redis.call('ZREM', KEYS[1], old) end
  if name == '' then
    redis.call('HDEL', KEYS[2], user)
  else
    redis.call('ZADD', KEYS[1], score, name)
    redis.call('HSET', KEYS[2], user, name)
  end
end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
"""

# Marks a copy about to be rebuilt as missing (if it is still at the position read), so that readers
# rank from their own state meanwhile instead of from a copy known to lack changes. KEYS: seq.
_STALE = """
if tonumber(redis.call('GET', KEYS[1])) == tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
return 1
"""

# Adds entries to a board being rebuilt aside (KEYS: built z, built m; ARGV: entries). The keys
# expire if their builder dies before the swap.
_FILL = """
for user, score, name in string.gmatch(ARGV[1], '""" + _ENTRIES + """') do
  redis.call('ZADD', KEYS[1], score, name)
  redis.call('HSET', KEYS[2], user, name)
end
redis.call('PEXPIRE', KEYS[1], 3600000)
redis.call('PEXPIRE', KEYS[2], 3600000)
return 1
"""

# Swaps a rebuilt board in (KEYS: z, m, seq, built z, built m; ARGV: head, ttl, "1" to swap only if
# the copy is missing or older than `head`: a rebuild sent aside must not replace a newer copy).
_SWAP = """
local cur = tonumber(redis.call('GET', KEYS[3]))
if ARGV[3] == '1' and cur ~= nil and cur >= tonumber(ARGV[1]) then
  redis.call('UNLINK', KEYS[4], KEYS[5])
  return 0
end
redis.call('UNLINK', KEYS[1], KEYS[2])  -- a large board is freed in the background
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('RENAME', KEYS[4], KEYS[1]) end
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('RENAME', KEYS[5], KEYS[2]) end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""


def member(user_id: str, reached_at: int) -> str:
    return f"{reached_at + _AT_OFFSET:016d}:{user_id}"


def user_of(member_bytes: bytes) -> str:
    return member_bytes.decode().split(":", 1)[1]


class Keys:
    __slots__ = ("z", "m", "seq", "built_z", "built_m")

    def __init__(self, tenant_id: str, campaign_id: str, builder: str = "") -> None:
        base = f"liveloop:lb:{{{tenant_id}:{campaign_id}}}"
        self.z, self.m, self.seq = f"{base}:z", f"{base}:m", f"{base}:seq"
        # Each rebuild builds aside under keys of its own: two processes may rebuild at once.
        self.built_z, self.built_m = f"{base}:z:build{builder}", f"{base}:m:build{builder}"


class RedisLeaderboards:
    def __init__(self, redis_url: str) -> None:
        self._guard = RedisGuard(redis_url, what="leaderboards", use="leaderboards")
        self._scripts: dict[str, object] = {}
        self._tasks: set[asyncio.Task] = set()  # rebuilds sent aside

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._guard.close()

    def _script(self, text: str):
        script = self._scripts.get(text)
        if script is None:
            script = self._scripts[text] = self._guard.connect().register_script(text)
        return script

    async def _run(self, text: str, keys: list[str], args: list):
        return await self._guard.call(lambda _client: self._script(text)(keys=keys, args=args))

    # -- writing (under the campaign's lock, state at the log's head) ------------------------

    async def publish(self, tenant_id: str, live: LiveCampaign, *, check: bool = False) -> None:
        """Bring the Redis copy of the campaign's board to the state's log position.

        Skipped when nothing happened since this process's last write, unless `check`: then the
        copy itself is checked (it may have been lost with a Redis restart) and rebuilt if need be.
        """
        board = live.state.leaderboard
        head = live.state.last_seq
        if live.board_rebuild is not None:
            return  # a rebuild is on its way; what changes meanwhile follows with the next write
        if live.board_seq == head and not board.changed and not check:
            return
        if not self._guard.available:
            return
        changed, board.changed = board.changed or {}, {}
        keys = Keys(tenant_id, live.state.config.id)
        try:
            seq = await self._guard.call(lambda client: client.get(keys.seq))
            position = int(seq) if seq is not None else None
            done = False
            if position is not None and live.board_seq is not None and live.board_seq <= position <= head:
                users = [user_id for user_id, at in changed.items() if at > position]
                if len(users) <= MAX_INCREMENTAL:
                    done = await self._update(keys, board, users, position, head)
            if not done:
                if position is not None:
                    await self._run(_STALE, [keys.seq], [position])
                if len(board) > INLINE_REBUILD:
                    self._rebuild_aside(tenant_id, live, head)
                    return
                await self._rebuild(keys, list(board.entries()), head)
        except BaseException as exc:
            # Not written: the changes stay for the next write (or the next rebuild covers them).
            board.changed = {**changed, **board.changed}
            if not isinstance(exc, Exception):
                raise  # cancelled (shutdown)
            if not isinstance(exc, RedisAway):
                log.warning("could not write the leaderboard of %s to Redis: %s", live.state.config.id, exc)
            return
        live.board_seq = head

    async def replace(self, tenant_id: str, live: LiveCampaign) -> None:
        """Rewrite the whole copy from the state, under the campaign's lock: after an erasure the
        log names a user differently, which no incremental update can say."""
        head = live.state.last_seq
        await self._rebuild(Keys(tenant_id, live.state.config.id), list(live.state.leaderboard.entries()), head)
        live.board_seq = head
        live.state.leaderboard.changed = {}

    async def _update(self, keys: Keys, board: Leaderboard, users: list[str], position: int, head: int) -> bool:
        parts = _changed_entries(board, users)
        for i, part in enumerate(parts):
            last = "1" if i == len(parts) - 1 else "0"
            if not await self._run(_UPDATE, [keys.z, keys.m, keys.seq], [position, head, TTL_MS, part, last]):
                return False
        return True

    def _rebuild_aside(self, tenant_id: str, live: LiveCampaign, head: int) -> None:
        """The whole board as of `head`, sent by a task of its own and swapped in unless a newer
        copy got there first. Until it is done this process writes nothing more; if it fails,
        the next write starts it again."""
        entries = list(live.state.leaderboard.entries())
        keys = Keys(tenant_id, live.state.config.id, builder=secrets.token_hex(4))
        live.board_seq = head

        async def send() -> None:
            try:
                await self._rebuild(keys, entries, head, only_if_newer=True)
            except Exception as exc:  # noqa: BLE001
                live.board_seq = None
                if not isinstance(exc, RedisAway):
                    log.warning("could not rebuild the leaderboard of %s in Redis: %s", live.state.config.id, exc)
            finally:
                live.board_rebuild = None

        live.board_rebuild = task = asyncio.ensure_future(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rebuild(self, keys: Keys, entries: list[tuple[str, int, int]], head: int, *,
                       only_if_newer: bool = False) -> None:
        # Built aside in chunks (each well within the socket timeout), then swapped in at once.
        await self._guard.call(lambda client: client.unlink(keys.built_z, keys.built_m))
        for start in range(0, len(entries), REBUILD_CHUNK):
            await self._add_chunk(keys, entries[start:start + REBUILD_CHUNK])
        await self._run(_SWAP, [keys.z, keys.m, keys.seq, keys.built_z, keys.built_m],
                        [head, TTL_MS, "1" if only_if_newer else "0"])

    async def _add_chunk(self, keys: Keys, chunk: list[tuple[str, int, int]]) -> None:
        packed = "".join(f"{user_id}\t{-score}\t{member(user_id, reached_at)}\n"
                         for user_id, score, reached_at in chunk)
        await self._run(_FILL, [keys.built_z, keys.built_m], [packed])

    # -- reading ----------------------------------------------------------------------------

    async def top(self, tenant_id: str, campaign_id: str, limit: int) -> list[tuple[int, str, int]] | None:
        """[(rank, user_id, score)] of the first `limit`; None when Redis holds no copy or is away."""
        keys = Keys(tenant_id, campaign_id)

        async def read(client):
            pipe = client.pipeline(transaction=True)
            pipe.get(keys.seq)
            pipe.zrange(keys.z, 0, limit - 1, withscores=True)
            return await pipe.execute()

        try:
            seq, rows = await self._guard.call(read)
        except Exception as exc:  # noqa: BLE001 - away, or refusing (READONLY during a failover, ...)
            if not isinstance(exc, RedisAway):
                log.warning("could not read a leaderboard from Redis: %s", exc)
            return None
        if seq is None:
            return None
        return [(rank, user_of(name), -int(score)) for rank, (name, score) in enumerate(rows, 1)]

    async def top_keys(self, tenant_id: str, campaign_id: str,
                       limit: int) -> list[tuple[int, str, int, int]] | None:
        """[(rank, user_id, score, reached_at)] of the first `limit` (a page's cursor needs reached_at)."""
        keys = Keys(tenant_id, campaign_id)

        async def read(client):
            pipe = client.pipeline(transaction=True)
            pipe.get(keys.seq)
            pipe.zrange(keys.z, 0, limit - 1, withscores=True)
            return await pipe.execute()

        try:
            seq, rows = await self._guard.call(read)
        except Exception as exc:  # noqa: BLE001 - away, or refusing (READONLY during a failover, ...)
            if not isinstance(exc, RedisAway):
                log.warning("could not read a leaderboard from Redis: %s", exc)
            return None
        if seq is None:
            return None
        out = []
        for rank, (name, score) in enumerate(rows, 1):
            at, user_id = name.decode().split(":", 1)
            out.append((rank, user_id, -int(score), int(at) - _AT_OFFSET))
        return out

    async def position(self, tenant_id: str, campaign_id: str) -> int | None:
        """The log position the copy reflects, -1 when there is no copy; None when Redis is away."""
        try:
            seq = await self._guard.call(lambda client: client.get(Keys(tenant_id, campaign_id).seq))
        except RedisAway:
            return None
        return int(seq) if seq is not None else -1


def _changed_entries(board: Leaderboard, user_ids: list[str]) -> list[str]:
    """The users' entries, packed in parts of UPDATE_CHUNK (at least one part, maybe empty)."""
    lines = []
    for user_id in user_ids:
        entry = board.entry(user_id)
        if entry is None:
            lines.append(f"{user_id}\t0\t\n")
        else:
            score, reached_at = entry
            lines.append(f"{user_id}\t{-score}\t{member(user_id, reached_at)}\n")
    return ["".join(lines[i:i + UPDATE_CHUNK]) for i in range(0, len(lines), UPDATE_CHUNK)] or [""]
