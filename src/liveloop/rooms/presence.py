"""POST /v1/presence: the widget's heartbeat, which covers viewers that no streaming provider reports.

Beats themselves are not logged; what they mean for the room is, through the normal ingestion
path, under deterministic ids:
- the first beat inside the campaign window, or the first after the viewer's presence was closed,
  is a `room_join`;
- a beat after more than the presence timeout of silence (the sweeper had not closed it yet) is a
  `room_timeout` at the last beat plus half a beat interval, then a `room_join`;
- while the campaign asks for `min_watch_seconds` and the viewer's join does not count yet, the
  beat at which the watch time reaches the minimum is a `room_heartbeat`.
Silence past the timeout closes the presence from the sweeper (rooms/sweeper.py) the same way.
Who beat when is kept by a presence book: this process's memory (PresenceBook, below), or with
Redis the book every process shares (rooms/shared_presence.py), so beats may reach any process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from liveloop.engine.state import CampaignState
from liveloop.kit import clock
from liveloop.kit.asgi import read_body, send_error, send_response
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.errors import BadRequest, Invalid, LiveloopError, MethodNotAllowed, TooManyRequests, Unavailable
from liveloop.kit.times import iso
from liveloop.realtime.stream import CORS, send_json_cors, viewer_token
from liveloop.realtime.tokens import ViewerToken, verify
from liveloop.rooms.receiver import event_id

if TYPE_CHECKING:
    from liveloop.events.gate import CampaignGate
    from liveloop.events.ingest import Ingestor
    from liveloop.kit.ratelimit import RateLimiter
    from liveloop.rooms.shared_presence import SharedPresenceBook
    from liveloop.tenants.signing import Signing

NEXT_BEAT_SECONDS = 30
# A silent viewer is taken to have left half a beat interval after its last beat: the expected
# moment, neither crediting the whole interval nor none of it.
HALF_BEAT_MS = NEXT_BEAT_SECONDS * 1000 // 2
MAX_BODY = 4096
_PREFLIGHT = [
    *CORS,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type"),
    (b"access-control-max-age", b"86400"),
]

Key = tuple[str, str, str]  # (tenant_id, campaign_id, user_id)
Campaign = tuple[str, str]  # (tenant_id, campaign_id)


@dataclass(frozen=True, slots=True)
class Claim:
    """A silent viewer taken by one sweeper to be timed out: nobody else takes it meanwhile."""

    user_id: str
    last: int  # the viewer's last beat
    token: str | None = None  # how the shared book recognises the claim (None: this process's book)


class PresenceBook:
    """When each widget viewer last beat, in this process's memory (one process, or no Redis).

    The sweeper claims silent viewers and settles the claims once their timeouts are logged (or
    gives them back when logging failed, so the next sweep tries again). The shared book
    (rooms/shared_presence.py) has the same methods, with Redis behind them.
    """

    def __init__(self, *, capacity: int = 200_000, forget_after_ms: int = 10 * 60_000) -> None:
        self._seen: dict[Campaign, dict[str, int]] = {}
        self._size = 0
        self._capacity = capacity
        self._forget_after_ms = forget_after_ms

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def beat(self, key: Key, now: int) -> int | None:
        """Record a beat; returns the viewer's previous beat, if remembered."""
        return self.beat_now(key, now)

    def beat_now(self, key: Key, now: int) -> int | None:
        tenant_id, campaign_id, user_id = key
        users = self._seen.get((tenant_id, campaign_id))
        if users is None:
            users = self._seen[(tenant_id, campaign_id)] = {}
        previous = users.get(user_id)
        if previous is None:
            if self._size >= self._capacity:
                self._evict(now)
            self._size += 1
        users[user_id] = now
        return previous

    async def campaigns_due(self, before: int, now: int) -> list[Campaign]:
        """Campaigns with a viewer whose last beat is older than `before`."""
        return [campaign for campaign, users in self._seen.items() if any(seen < before for seen in users.values())]

    async def claim(self, campaign: Campaign, before: int, now: int) -> list[Claim]:
        """Take the campaign's viewers whose last beat is older than `before` out of the book."""
        users = self._seen.get(campaign, {})
        claims = [Claim(user_id, seen) for user_id, seen in users.items() if seen < before]
        for claim in claims:
            del users[claim.user_id]
        self._size -= len(claims)
        if not users:
            self._seen.pop(campaign, None)
        return claims

    async def settle(self, campaign: Campaign, claims: list[Claim], *, logged: bool) -> None:
        """Done with `claims`: their timeouts are logged, or (not `logged`) they go back to the book."""
        if not logged:
            for claim in claims:
                # A beat since the claim is newer: it stays.
                if claim.user_id not in self._seen.get(campaign, {}):
                    self.beat_now((*campaign, claim.user_id), claim.last)

    async def beating(self, campaign: Campaign, user_ids: list[str]) -> set[str]:
        """Those of `user_ids` the book has a beat of (widget viewers, whose beats prove their watch time)."""
        users = self._seen.get(campaign, {})
        return {user_id for user_id in user_ids if user_id in users}

    def entries(self) -> list[tuple[Key, int]]:
        return [((*campaign, user_id), seen) for campaign, users in self._seen.items()
                for user_id, seen in users.items()]

    def drop(self, key: Key, seen: int) -> None:
        """Forget one viewer if its last beat is still `seen`."""
        users = self._seen.get(key[:2])
        if users is not None and users.get(key[2]) == seen:
            del users[key[2]]
            self._size -= 1
            if not users:
                del self._seen[key[:2]]

    def __len__(self) -> int:
        return self._size

    def _evict(self, now: int) -> None:
        # Forgetting a viewer only means its presence is closed by the room's end instead of a timeout.
        entries = self.entries()
        gone = [(key, seen) for key, seen in entries if now - seen > self._forget_after_ms]
        if not gone:
            gone = sorted(entries, key=lambda item: item[1])[: len(entries) // 10]
        for key, seen in gone:
            self.drop(key, seen)


def presence_event_id(campaign_id: str, user_id: str, *suffix: str) -> str:
    """Ids of the events the widget's beats cause: one first join per viewer and campaign."""
    return event_id("presence", campaign_id, user_id, *suffix)


def timeout_at(last_beat: int, now: int) -> int:
    """When a viewer whose beats stopped after `last_beat` is taken to have left."""
    return min(last_beat + HALF_BEAT_MS, now)


def beat_events(state: CampaignState, user_id: str, *, previous: int | None, ref: str | None, now: int,
                timeout_ms: int) -> list[dict]:
    """What one beat inside the window means for the room, as events to log (often none)."""
    cid = state.config.id

    def event(kind: str, at: int, *suffix: str) -> dict:
        return {"id": presence_event_id(cid, user_id, *suffix), "type": kind, "campaign_id": cid,
                "user_id": user_id, "at": iso(at)}

    presence = state.presence_of(user_id)
    if presence is None or not presence.open:
        join = event("room_join", now) if presence is None else event("room_join", now, "join", str(now))
        if ref is not None:
            join["ref"] = ref
        return [join]
    if previous is not None and now - previous > timeout_ms:
        return [event("room_timeout", timeout_at(previous, now), "timeout", str(previous)),
                event("room_join", now, "join", str(now))]
    due = state.watch_due(user_id)
    if due is not None and due <= now:
        return [event("room_heartbeat", now, "beat", str(now))]
    return []


class PresenceEndpoint:
    def __init__(self, campaigns: CampaignGate, ingestor: Ingestor, book: PresenceBook | SharedPresenceBook,
                 limits: RateLimiter, signing: Signing, *, timeout_seconds: int) -> None:
        self._campaigns = campaigns
        self._ingestor = ingestor
        self._book = book
        self._limits = limits
        self._signing = signing
        self._timeout_ms = timeout_seconds * 1000

    async def __call__(self, scope, receive, send) -> None:
        if scope["method"] == "OPTIONS":
            await send_response(send, 204, b"", b"text/plain", _PREFLIGHT)
            return
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed("use POST")
            reply = await self._beat(scope, receive)
        except LiveloopError as exc:
            await send_error(send, exc, CORS)
            return
        except WriterFailed:
            await send_error(send, Unavailable("the beat was not stored; send it again"), CORS)
            return
        await send_json_cors(send, 200, reply)

    async def _beat(self, scope, receive) -> dict:
        # Any content type: the widget sends text/plain so browsers skip the CORS preflight.
        body = await read_body(scope, receive, MAX_BODY)
        payload: object = {}
        if body.strip():
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise BadRequest("body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise BadRequest('body must be {"token": "..."}')
        token = payload.get("token")
        if token is not None and not isinstance(token, str):
            raise Invalid("token must be a string", field="token")
        ref = payload.get("ref")
        if ref is not None and not (isinstance(ref, str) and 0 < len(ref) <= 64):
            raise Invalid("ref must be an invite code of 1 to 64 characters", field="ref")
        now = clock.now_ms()
        client = scope.get("client")
        if client and not self._limits.allow("presence", client[0], now):
            raise TooManyRequests("too many beats from this address", retry_after=self._limits.retry_after(now))
        viewer = verify(self._signing.key, token or viewer_token(scope), now=now)
        live = await self._campaigns.get(viewer.tenant_id, viewer.campaign_id)
        config = live.state.config
        if config.cancelled:
            return {"ok": True, "next_beat_seconds": NEXT_BEAT_SECONDS}  # nobody is counted in its room
        previous = await self._book.beat(viewer.key, now)
        if config.starts_at <= now <= config.ends_at:
            events = beat_events(live.state, viewer.user_id, previous=previous, ref=ref, now=now,
                                 timeout_ms=self._timeout_ms)
            if events:
                await self._log(viewer, events, now)
        return {"ok": True, "next_beat_seconds": NEXT_BEAT_SECONDS}

    async def _log(self, viewer: ViewerToken, events: list[dict], now: int) -> None:
        result = await self._ingestor.ingest(viewer.tenant_id, events, now=now)
        if result.rejected:
            error = result.rejected[0]["error"]
            raise Invalid(error["message"], code=error["code"], field=error.get("field"))
