"""Agora notification callbacks (Agora Notifications, RTC channel events).

Agora POSTs JSON `{noticeId, productId, eventType, notifyMs, sid?, payload}` and signs the raw
body: `Agora-Signature-V2` is the hex HMAC-SHA256 of the body with the notification secret
(`Agora-Signature` the same with SHA-1, not used here). Channel events carry `payload.channelName`,
`payload.uid`, `payload.clientSeq` (grows with each event of one user) and `payload.ts` (Unix
seconds when the event happened); `notifyMs` is when the notice was sent, and changes on retries.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass

import orjson

from liveloop.kit.errors import BadRequest
from liveloop.kit.redis_guard import RedisAway, RedisGuard

SIGNATURE_HEADER = b"agora-signature-v2"
CHANNEL_DESTROYED = 102
# 103/104 host (broadcaster) join/leave and 105/106 audience join/leave in the live broadcasting
# profile; 107/108 the same for the communication profile.
JOINS = frozenset({103, 105, 107})
LEAVES = frozenset({104, 106, 108})


def signature(secret: str, body: bytes) -> str:
    """What Agora puts in Agora-Signature-V2 for this body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of the Agora-Signature-V2 header against the raw body."""
    return hmac.compare_digest(header.strip().lower().encode("latin-1", "replace"), signature(secret, body).encode())


@dataclass(frozen=True, slots=True)
class Notice:
    notice_id: str
    event_type: int
    channel: str | None
    uid: str | None
    client_seq: int | None
    ts_ms: int | None


def parse(body: bytes) -> Notice:
    """The fields liveloop reads from a notice; BadRequest when it is not a notice at all."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("a notice is a JSON object")
    notice_id, event_type, payload = data.get("noticeId"), data.get("eventType"), data.get("payload")
    if not isinstance(notice_id, str) or not notice_id or len(notice_id) > 128:
        raise BadRequest("noticeId must be a string of 1 to 128 characters", field="noticeId")
    if not _integer(event_type):
        raise BadRequest("eventType must be a number", field="eventType")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise BadRequest("payload must be an object", field="payload")
    channel, uid, seq, ts = (payload.get(k) for k in ("channelName", "uid", "clientSeq", "ts"))
    if channel is not None and not isinstance(channel, str):
        raise BadRequest("payload.channelName must be a string", field="payload.channelName")
    if uid is not None and not (_integer(uid) or (isinstance(uid, str) and uid)):
        raise BadRequest("payload.uid must be a number", field="payload.uid")
    if seq is not None and not _integer(seq):
        raise BadRequest("payload.clientSeq must be a number", field="payload.clientSeq")
    if ts is not None and not (isinstance(ts, int | float) and not isinstance(ts, bool) and 0 <= ts < 1e11):
        raise BadRequest("payload.ts must be Unix seconds", field="payload.ts")
    return Notice(notice_id, event_type, channel, None if uid is None else str(uid), seq,
                  None if ts is None else int(ts * 1000))


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class SequenceClock:
    """Places each notice of one Agora user inside its second so that time order follows clientSeq.

    `ts` has one-second resolution, so a leave and a re-join in the same second would tie; the
    engine orders a user's room events by time. A notice goes to the middle of the free span of
    its second between the user's known older and newer notices (the first one at .499), so
    whatever order notices arrive in, an older one is never placed after a newer one. When the
    clocks disagree with the sequence, the sequence wins. Remembered in this process, for recent
    users: enough for one process; several share the placements on Redis (SharedSequenceClock).
    """

    def __init__(self, *, users: int = 200_000, depth: int = 16) -> None:
        self._users: OrderedDict[tuple[str, ...], list[tuple[int, int]]] = OrderedDict()
        self._capacity = users
        self._depth = depth

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def order(self, user: tuple[str, ...], seq: int | None, ts_ms: int) -> int:
        """The event time of a notice of `user` (see the class)."""
        return self.place(user, seq, ts_ms)

    def place(self, user: tuple[str, ...], seq: int | None, ts_ms: int) -> int:
        if seq is None:
            return ts_ms
        known = self._users.get(user)
        if known is None:
            known = self._users[user] = []
            if len(self._users) > self._capacity:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user)
        for s, at in known:
            if s == seq:
                return at  # a retry of a notice already placed
        lo = max((at for s, at in known if s < seq), default=None)
        hi = min((at for s, at in known if s > seq), default=None)
        at = _between(ts_ms, lo, hi)
        known.append((seq, at))
        if len(known) > self._depth:
            known.pop(0)
        return at


def _between(ts_ms: int, lo: int | None, hi: int | None) -> int:
    low = ts_ms - 1 if lo is None else max(lo, ts_ms - 1)
    high = ts_ms + 1000 if hi is None else min(hi, ts_ms + 1000)
    if high - low >= 2:
        return (low + high) // 2
    if lo is not None and hi is not None:
        return (lo + hi) // 2 if hi - lo >= 2 else lo
    return hi - 1 if hi is not None else lo + 1  # type: ignore[operator]


# KEYS: the user's hash seq -> placed time. ARGV: seq, ts ms, depth, keep ms. The same placement as
# SequenceClock.place (and _between), in one script, so processes placing one user's notices at
# once see each other's placements; the oldest sequence number is forgotten beyond `depth`.
_PLACE = """
local known = redis.call('HGET', KEYS[1], ARGV[1])
if known then return known end
local seq, ts = tonumber(ARGV[1]), tonumber(ARGV[2])
local lo, hi, n, oldest, oldest_field = nil, nil, 0, nil, nil
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local s, at = tonumber(all[i]), tonumber(all[i + 1])
  n = n + 1
  if oldest == nil or s < oldest then oldest, oldest_field = s, all[i] end
  if s < seq and (lo == nil or at > lo) then lo = at end
  if s > seq and (hi == nil or at < hi) then hi = at end
end
local low = ts - 1
if lo ~= nil and lo > low then low = lo end
local high = ts + 1000
if hi ~= nil and hi < high then high = hi end
local at
if high - low >= 2 then at = math.floor((low + high) / 2)
elseif lo ~= nil and hi ~= nil then
  if hi - lo >= 2 then at = math.floor((lo + hi) / 2) else at = lo end
elseif hi ~= nil then at = hi - 1
else at = lo + 1 end
local placed = string.format('%d', at)
redis.call('HSET', KEYS[1], ARGV[1], placed)
if n + 1 > tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], oldest_field) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return placed
"""


class SharedSequenceClock:
    """SequenceClock with the placements on Redis, shared by every process (and kept over restarts).

    Agora may deliver one user's notices to different processes; each must place a notice knowing
    the others' placements, or two notices of one second could land in the wrong order. While
    Redis is away, this process's own clock places them (and a warning is logged): the notices are
    all kept as events all the same; only the order of one user's notices within one second could
    then differ from their clientSeq if they reach different processes.
    """

    KEEP_MS = 24 * 3600_000

    def __init__(self, redis_url: str, *, depth: int = 16) -> None:
        self._guard = RedisGuard(redis_url, what="Agora notice order (clientSeq)", use="agora")
        self._local = SequenceClock(depth=depth)
        self._depth = depth
        self._script = None

    async def start(self) -> None:
        self._script = self._guard.connect().register_script(_PLACE)

    async def close(self) -> None:
        await self._guard.close()

    async def order(self, user: tuple[str, ...], seq: int | None, ts_ms: int) -> int:
        if seq is None:
            return ts_ms
        key = "liveloop:agora:" + orjson.dumps(list(user)).decode()
        try:
            placed = await self._guard.call(lambda _c: self._script(keys=[key], args=[seq, ts_ms, self._depth,
                                                                                      self.KEEP_MS]))
        except RedisAway:
            return self._local.place(user, seq, ts_ms)
        return int(placed)


def sequence_clock(redis_url: str | None) -> SequenceClock | SharedSequenceClock:
    """Agora notice order: in this process's memory, or on Redis when several processes share it."""
    return SharedSequenceClock(redis_url) if redis_url else SequenceClock()
