"""The presence book on Redis: every process sees every viewer's last beat, whichever took it.

Per campaign, three keys under `liveloop:presence:{tenant}:{campaign}:`
- `beats`, a sorted set user -> last beat (ms): a beat reads the previous one and sets the new one
  in one script, so two processes taking beats of one viewer at once still see them in order;
- `claims`, a sorted set user -> lease deadline, and `last`, a hash user -> the claimed last beat:
  a sweeper moves silent viewers from `beats` to a lease in one script, so exactly one process
  times each of them out; it settles the claims once the timeouts are logged. A sweeper that dies
  with claims in hand (kill -9) leaves leases that expire, and another process claims them again.
  A beat of a claimed viewer still sees its last beat, so it is timed out and joins again at once.
The index `liveloop:presence:campaigns` (campaign -> latest beat) tells sweepers where to look,
including campaigns whose beats went to a process that has died.

When Redis does not answer, beats are taken by this process's own book (the behaviour of one
process) and a warning is logged; its entries are merged into Redis (latest beat wins) as soon as
Redis answers again, before anything else is read from it. Timeout events have deterministic ids,
so a timeout decided twice (once locally during the outage, once from Redis) is stored once.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from liveloop.kit.redis_guard import RedisAway, RedisGuard
from liveloop.rooms.presence import Campaign, Claim, Key, PresenceBook

log = logging.getLogger("liveloop.presence")

PREFIX = "liveloop:presence:"
INDEX = PREFIX + "campaigns"
KEEP_MS = 6 * 3600_000  # a campaign's keys outlive its last beat by this much
LEASE_MS = 30_000  # a claim not settled by then (its sweeper died) is claimed again
CLAIM_BATCH = 1000
MERGE_CHUNK = 1000  # beats per merge script after an outage

# KEYS: beats, last, index. ARGV: user, now, index member, keep ms. Returns the previous beat or nil.
_BEAT = """
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not previous then previous = redis.call('HGET', KEYS[2], ARGV[1]) end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return previous
"""

# KEYS: beats, claims, last. ARGV: before, now, lease deadline, batch, keep ms.
# Returns [user, last beat, ...]: silent viewers, and those whose earlier claim was never settled.
_CLAIM = """
local out = {}
local silent = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[4])
for i = 1, #silent, 2 do
  redis.call('ZREM', KEYS[1], silent[i])
  redis.call('ZADD', KEYS[2], ARGV[3], silent[i])
  redis.call('HSET', KEYS[3], silent[i], silent[i + 1])
  out[#out + 1] = silent[i]
  out[#out + 1] = silent[i + 1]
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[4])
for _, user in ipairs(expired) do
  local last = redis.call('HGET', KEYS[3], user)
  if last then
    redis.call('ZADD', KEYS[2], ARGV[3], user)
    out[#out + 1] = user
    out[#out + 1] = last
  else
    redis.call('ZREM', KEYS[2], user)
  end
end
if #out > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return out
"""

# KEYS: beats, claims, last. ARGV: logged (1|0), then user, last beat pairs.
# A claim is settled only if it is still the one taken (a newer claim of the user is left alone);
# not logged, the viewer goes back to `beats` unless it beat again meanwhile.
_SETTLE = """
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[3], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    if ARGV[1] == '0' then redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 1], ARGV[i]) end
  end
end
return 0
"""

# KEYS: index. ARGV: keep ms, then beats key, index member, user, beat ... (a process's book after an outage)
_MERGE = """
for i = 2, #ARGV, 4 do
  redis.call('ZADD', ARGV[i], 'GT', ARGV[i + 3], ARGV[i + 2])
  redis.call('PEXPIRE', ARGV[i], ARGV[1])
  redis.call('ZADD', KEYS[1], 'GT', ARGV[i + 3], ARGV[i + 1])
end
return 0
"""


def _keys(campaign: Campaign) -> tuple[str, str, str]:
    base = f"{PREFIX}{campaign[0]}:{campaign[1]}:"
    return base + "beats", base + "claims", base + "last"


def _member(campaign: Campaign) -> str:
    return orjson.dumps(list(campaign)).decode()


class SharedPresenceBook:
    """PresenceBook's methods over Redis, with this process's own book while Redis is away."""

    def __init__(self, redis_url: str, *, lease_ms: int = LEASE_MS) -> None:
        self._guard = RedisGuard(redis_url, what="widget presence beats", use="presence")
        self._local = PresenceBook()
        self._lease_ms = lease_ms
        self._scripts: dict[str, object] = {}
        self._merging = asyncio.Lock()

    async def start(self) -> None:
        client = self._guard.connect()
        for name, text in (("beat", _BEAT), ("claim", _CLAIM), ("settle", _SETTLE), ("merge", _MERGE)):
            self._scripts[name] = client.register_script(text)

    async def close(self) -> None:
        await self._guard.close()

    async def beat(self, key: Key, now: int) -> int | None:
        campaign = key[:2]
        beats, _claims, last = _keys(campaign)
        try:
            await self._merge_local()
            previous = await self._guard.call(lambda _c: self._scripts["beat"](
                keys=[beats, last, INDEX], args=[key[2], now, _member(campaign), KEEP_MS]))
        except RedisAway:
            return self._local.beat_now(key, now)
        return None if previous is None else int(float(previous))

    async def campaigns_due(self, before: int, now: int) -> list[Campaign]:
        due = set(await self._local.campaigns_due(before, now))
        try:
            await self._merge_local()
            members = await self._guard.call(lambda c: self._index(c, now))
            if members:
                counts = await self._guard.call(lambda c: self._counts(c, members, before, now))
                due.update(campaign for campaign, (silent, expired) in zip(members, counts, strict=True)
                           if silent or expired)
        except RedisAway:
            pass
        return sorted(due)

    async def claim(self, campaign: Campaign, before: int, now: int) -> list[Claim]:
        claims = await self._local.claim(campaign, before, now)
        try:
            found = await self._guard.call(lambda _c: self._scripts["claim"](
                keys=list(_keys(campaign)), args=[before, now, now + self._lease_ms, CLAIM_BATCH, KEEP_MS]))
        except RedisAway:
            return claims
        for i in range(0, len(found), 2):
            user_id, last = found[i].decode(), found[i + 1].decode()
            claims.append(Claim(user_id, int(float(last)), last))
        return claims

    async def settle(self, campaign: Campaign, claims: list[Claim], *, logged: bool) -> None:
        await self._local.settle(campaign, [c for c in claims if c.token is None], logged=logged)
        shared = [c for c in claims if c.token is not None]
        if not shared:
            return
        args: list = ["1" if logged else "0"]
        for claim in shared:
            args += [claim.user_id, claim.token]
        try:
            await self._guard.call(lambda _c: self._scripts["settle"](keys=list(_keys(campaign)), args=args))
        except RedisAway:
            # The leases expire and the viewers are claimed again; their timeouts, if logged, are deduplicated.
            log.warning("could not settle %d presence claims of campaign %s", len(shared), campaign[1])

    async def beating(self, campaign: Campaign, user_ids: list[str]) -> set[str]:
        found = await self._local.beating(campaign, user_ids)
        if not user_ids:
            return found
        beats = _keys(campaign)[0]
        try:
            scores = await self._guard.call(lambda c: c.zmscore(beats, user_ids))
        except RedisAway:
            return found
        return found | {user_id for user_id, score in zip(user_ids, scores, strict=True) if score is not None}

    async def _merge_local(self) -> None:
        """Beats taken while Redis was away go to Redis first (latest beat wins), then leave this process.

        One merge at a time (the beats that arrive meanwhile wait for it, so each sees its viewer's
        last beat), in scripts of MERGE_CHUNK entries so that Redis keeps serving between them
        and each part leaves the local book as soon as Redis has it.
        """
        if not len(self._local):
            return
        async with self._merging:
            entries = self._local.entries()
            for start in range(0, len(entries), MERGE_CHUNK):
                part = entries[start:start + MERGE_CHUNK]
                args: list = [KEEP_MS]
                for (tenant_id, campaign_id, user_id), seen in part:
                    args += [_keys((tenant_id, campaign_id))[0], _member((tenant_id, campaign_id)), user_id, seen]
                await self._guard.call(lambda _c, args=args: self._scripts["merge"](keys=[INDEX], args=args))
                for key, seen in part:
                    self._local.drop(key, seen)
            if entries:
                log.warning("merged %d presence beats taken during a Redis outage", len(entries))

    @staticmethod
    async def _index(client, now: int) -> list[Campaign]:
        pipe = client.pipeline(transaction=False)
        pipe.zremrangebyscore(INDEX, "-inf", now - KEEP_MS)
        pipe.zrange(INDEX, 0, -1)
        _removed, members = await pipe.execute()
        return [tuple(orjson.loads(m)) for m in members]

    @staticmethod
    async def _counts(client, members: list[Campaign], before: int, now: int) -> list[tuple[int, int]]:
        pipe = client.pipeline(transaction=False)
        for campaign in members:
            beats, claims, _last = _keys(campaign)
            pipe.zcount(beats, "-inf", f"({before}")
            pipe.zcount(claims, "-inf", f"({now}")
        counts = await pipe.execute()
        return list(zip(counts[::2], counts[1::2], strict=True))
