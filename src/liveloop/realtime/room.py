"""The room stream: live leaderboard, counters and draw results for the host's overlay and the console.

`GET /v1/campaigns/{cid}/room-stream` is server-sent events (a bare ASGI handler, like the viewer
stream). It accepts the tenant's API key (`Authorization: Bearer`, for the console and for
overlays rendered server-side) or a room token from `POST /v1/campaigns/{cid}/room-tokens`
(`?token=`, for an overlay page in a browser or streaming software: EventSource cannot send
headers, and an API key must never reach a page). A room token reads one campaign's room stream
and nothing else.

Every `room` message is a complete snapshot (top 10, counters, recent draws), so a client that
misses one loses nothing and there is nothing to resume. Snapshots are coalesced per campaign: a
change marks the room dirty, the first change after a quiet spell is sent at once and later ones at
most every `interval` (250 ms), however fast events arrive; rooms without subscribers cost one dict
lookup per committed batch. A draw's result is also pushed as it is run (`type: "draw"`). With
several processes, events logged by another one arrive through the log fan-out (realtime/fanout.py)
as caught-up effects, which mark the room dirty like local ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from liveloop.draws import service as draws_service
from liveloop.draws.service import StoredResult
from liveloop.events.live import LiveCampaign, LiveCampaigns
from liveloop.kit import clock
from liveloop.kit.asgi import header
from liveloop.kit.db.database import Database
from liveloop.kit.errors import LiveloopError, MethodNotAllowed, NotFound, Unauthorized
from liveloop.kit.money import to_decimal_str
from liveloop.kit.times import iso
from liveloop.markets.catalogue import get_market
from liveloop.markets.policy import leaderboard_name
from liveloop.realtime.hub import Subscriber, TooManyStreams
from liveloop.realtime.stream import SSE_HEADERS, close_on_disconnect, pump_frames, send_json_cors
from liveloop.realtime.tokens import MAX_TTL_SECONDS, MIN_TTL_SECONDS, sign_claims, verify_claims
from liveloop.tenants.auth import current_tenant
from liveloop.tenants.service import Tenant
from liveloop.users.service import names_and_consents

log = logging.getLogger("liveloop.realtime.room")

RoomKey = tuple[str, str]  # (tenant_id, campaign_id)
_PREFIX = "/v1/campaigns/"
_SUFFIX = "/room-stream"


def is_room_stream(path: str) -> bool:
    return path.startswith(_PREFIX) and path.endswith(_SUFFIX)


# -- room tokens -------------------------------------------------------------------------------

# The server secret also signs viewer tokens and derives draw seeds: a domain prefix keeps them apart.
_DOMAIN = b"liveloop-room-token|"


@dataclass(frozen=True, slots=True)
class RoomToken:
    tenant_id: str
    campaign_id: str
    expires_at: int  # epoch ms


def sign_room_token(secret: str, *, tenant_id: str, campaign_id: str, ttl_seconds: int, now: int) -> tuple[str, int]:
    """A token for one campaign's room stream, valid `ttl_seconds` from `now`; returns (token, expires_at)."""
    return sign_claims(secret, _DOMAIN, {"t": tenant_id, "c": campaign_id}, ttl_seconds=ttl_seconds, now=now)


def verify_room_token(secret: str, token: str, *, now: int) -> RoomToken:
    """The room a token grants, or Unauthorized when it is malformed, forged or expired."""
    claims = verify_claims(secret, _DOMAIN, token, now=now, what="room token",
                           expired="room token expired; mint a new one")
    room = RoomToken(claims.get("t"), claims.get("c"), claims["x"])
    if not (isinstance(room.tenant_id, str) and isinstance(room.campaign_id, str)):
        raise Unauthorized("malformed room token", field="token")
    return room


class RoomTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_seconds: Annotated[int, Field(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] = 6 * 3600


class RoomTokenRead(BaseModel):
    token: str
    expires_at: str


router = APIRouter(tags=["realtime"])


@router.post("/v1/campaigns/{cid}/room-tokens", status_code=201, response_model=RoomTokenRead,
             summary="A token for the campaign's room stream, for an overlay page (GET .../room-stream?token=)")
async def create_room_token(
    cid: str, request: Request, tenant: Annotated[Tenant, Depends(current_tenant)],
    body: RoomTokenCreate | None = None,
) -> dict:
    rt = request.app.state.runtime
    await rt.live.get(tenant.id, cid)
    token, expires_at = sign_room_token(rt.secret_key, tenant_id=tenant.id, campaign_id=cid,
                                        ttl_seconds=(body or RoomTokenCreate()).ttl_seconds, now=clock.now_ms())
    return {"token": token, "expires_at": iso(expires_at)}


# -- the hub of rooms --------------------------------------------------------------------------


@dataclass(slots=True)
class _Room:
    subscribers: set[Subscriber] = field(default_factory=set)
    dirty: bool = False
    timer: asyncio.TimerHandle | None = None
    flushing: bool = False
    last_sent: float = float("-inf")
    draws: deque[dict] | None = None  # recent results, loaded on first subscribe
    announced: set[tuple[str, str]] = field(default_factory=set)  # (rule_id, period) known to the room


class RoomHub:
    def __init__(self, db: Database, live: LiveCampaigns, *, interval: float = 0.25, top: int = 10,
                 recent_draws: int = 10, max_streams_per_room: int = 1000, queue_size: int = 20,
                 heartbeat_seconds: float = 15.0, max_lifetime_seconds: float = 1800.0) -> None:
        self.interval = interval
        self.heartbeat_seconds = heartbeat_seconds
        self.max_lifetime_seconds = max_lifetime_seconds
        self._db = db
        self._live = live
        self._top = top
        self._recent = recent_draws
        self._max_streams = max_streams_per_room
        self._queue_size = queue_size
        self._rooms: dict[RoomKey, _Room] = {}
        self._tasks: set[asyncio.Task] = set()  # pushes under way: referenced so they are not collected
        self._last_id = clock.now_ms() * 1000

    # -- connections -----------------------------------------------------------------------

    async def subscribe(self, key: RoomKey) -> tuple[Subscriber, bytes]:
        """A new stream of the room, and the snapshot to send first."""
        room = self._rooms.get(key)
        if room is None:
            room = self._rooms[key] = _Room()
        if len(room.subscribers) >= self._max_streams:
            raise TooManyStreams(f"at most {self._max_streams} open room streams per campaign")
        sub = Subscriber(key, self._queue_size)  # type: ignore[arg-type]
        room.subscribers.add(sub)
        try:
            if room.draws is None:
                room.draws = deque(await self._load_draws(key), maxlen=self._recent)
                room.announced.update((d["rule_id"], d["period"]) for d in room.draws)
            first = await self._snapshot(key, room)
        except BaseException:
            self.unsubscribe(sub)
            raise
        return sub, first

    def unsubscribe(self, sub: Subscriber) -> None:
        key: RoomKey = sub.key  # type: ignore[assignment]
        room = self._rooms.get(key)
        if room is None:
            return
        room.subscribers.discard(sub)
        if not room.subscribers:
            if room.timer is not None:
                room.timer.cancel()
            del self._rooms[key]

    def close(self) -> None:
        for room in self._rooms.values():
            for sub in room.subscribers:
                sub.close()

    # -- changes ---------------------------------------------------------------------------

    def on_committed(self, tenant_id: str, effects: list) -> None:
        """Committed effects mark their campaigns' rooms dirty (only rooms someone watches exist)."""
        if not self._rooms:
            return
        seen = None
        for live, _effect in effects:
            if live is seen:
                continue
            seen = live
            key = (tenant_id, live.state.config.id)
            room = self._rooms.get(key)
            if room is not None:
                self._mark(key, room)

    def draw_result(self, tenant_id: str, campaign_id: str, result: StoredResult) -> None:
        """A period was run here: pushed at once, and kept in the snapshots' recent draws."""
        key = (tenant_id, campaign_id)
        room = self._rooms.get(key)
        if room is not None and self._announce(room, result.rule_id, result.period):
            self._spawn(self._push_draw(key, result))

    def draw_logged(self, tenant_id: str, campaign_id: str, rule_id: str, period: str) -> None:
        """A winner's prize was applied here: the draw may have been run by another process, so its
        room hears of it from the stored result (once, whichever of its winners comes first)."""
        key = (tenant_id, campaign_id)
        room = self._rooms.get(key)
        if room is not None and self._announce(room, rule_id, period):
            self._spawn(self._push_stored_draw(key, rule_id, period))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _announce(room: _Room, rule_id: str, period: str) -> bool:
        if (rule_id, period) in room.announced:
            return False
        room.announced.add((rule_id, period))
        return True

    async def _push_stored_draw(self, key: RoomKey, rule_id: str, period: str) -> None:
        tenant_id, campaign_id = key
        try:
            results = await self._db.read(lambda conn: draws_service.stored_results(
                conn, tenant_id=tenant_id, campaign_id=campaign_id, rule_id=rule_id, period=period))
        except Exception:  # noqa: BLE001 - the draw is stored; the room hears of it in its next snapshot
            log.exception("could not read a draw result for the room stream")
            return
        if period in results:
            await self._push_draw(key, results[period])

    async def _push_draw(self, key: RoomKey, result: StoredResult) -> None:
        try:
            live = await self._live.get(*key)
            [summary] = await self._draw_summaries(live, [result])
        except Exception:  # noqa: BLE001 - the draw is stored; the room hears of it in the next snapshot
            log.exception("could not push a draw result to the room stream")
            return
        room = self._rooms.get(key)
        if room is None:
            return
        if room.draws is not None:
            room.draws.append(summary)
        self._push(room, {"type": "draw", **summary, "at": iso(clock.now_ms())})
        self._mark(key, room)

    def _mark(self, key: RoomKey, room: _Room) -> None:
        room.dirty = True
        if room.timer is None and not room.flushing:
            delay = max(0.0, room.last_sent + self.interval - clock.monotonic())
            room.timer = asyncio.get_running_loop().call_later(delay, self._start_flush, key)

    def _start_flush(self, key: RoomKey) -> None:
        room = self._rooms.get(key)
        if room is None:
            return
        room.timer = None
        room.flushing = True
        self._spawn(self._flush(key, room))

    async def _flush(self, key: RoomKey, room: _Room) -> None:
        try:
            room.dirty = False
            frame = await self._snapshot(key, room)
            for sub in room.subscribers:
                sub.push(frame)
        except Exception:  # noqa: BLE001 - a failed snapshot is retried at the next change
            log.exception("could not build the room snapshot of %s/%s", *key)
        finally:
            room.last_sent = clock.monotonic()
            room.flushing = False
            if room.dirty and self._rooms.get(key) is room:
                self._mark(key, room)

    # -- messages --------------------------------------------------------------------------

    def _push(self, room: _Room, payload: dict) -> None:
        frame = self._frame(payload)
        for sub in room.subscribers:
            sub.push(frame)

    def _frame(self, payload: dict) -> bytes:
        self._last_id += 1
        return b"id: %d\ndata: %b\n\n" % (self._last_id, orjson.dumps(payload))

    async def _snapshot(self, key: RoomKey, room: _Room) -> bytes:
        live = await self._live.get(*key)
        state = live.state
        config = state.config
        # Read in one go, with no await in between: the top and the counters are of one moment.
        top = state.leaderboard.top(self._top)
        referred, organic = state.referred, state.organic
        money = config.currency
        counters = {
            "referred_joins": referred.joins,
            "joins": referred.joins + organic.joins,
            "reservations": referred.reservations + organic.reservations,
            "referred_reservations": referred.reservations,
            "orders": referred.orders + organic.orders,
            "referred_orders": referred.orders,
            "gmv": to_decimal_str(referred.gmv + organic.gmv, money),
            "referred_gmv": to_decimal_str(referred.gmv, money),
            "clicks": referred.clicks + organic.clicks,
        }
        names = await self._names(live, [user_id for _rank, user_id, _score in top])
        gmv = config.leaderboard_metric == "gmv"
        payload = {
            "type": "room",
            "campaign_id": config.id,
            "metric": config.leaderboard_metric,
            "currency": money,
            "top": [{"rank": rank, "user_id": user_id, **names[user_id],
                     "score": to_decimal_str(score, money) if gmv else score}
                    for rank, user_id, score in top],
            "counters": counters,
            "draws": list(room.draws or ()),
            "at": iso(clock.now_ms()),
        }
        return self._frame(payload)

    async def _names(self, live: LiveCampaign, user_ids: list[str]) -> dict[str, dict]:
        """Display names as a public leaderboard shows them (masked where the market's policy says so)."""
        tenant_id = live.state.config.tenant_id
        people = await self._db.read(
            lambda conn: names_and_consents(conn, tenant_id=tenant_id, user_ids=user_ids)) if user_ids else {}
        market = get_market(live.body["market"])
        public = live.body.get("leaderboard", {}).get("public", True)
        out = {}
        for user_id in user_ids:
            name, consents = people.get(user_id, (None, {}))
            shown, masked = (leaderboard_name(market, name, consents, waive=live.body.get("waive") or ())
                             if public else (name, False))
            out[user_id] = {"display_name": shown, "masked": masked}
        return out

    async def _load_draws(self, key: RoomKey) -> list[dict]:
        tenant_id, campaign_id = key
        live = await self._live.get(*key)
        results = await self._db.read(lambda conn: draws_service.recent_results(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, limit=self._recent))
        return await self._draw_summaries(live, results)

    async def _draw_summaries(self, live: LiveCampaign, results: list[StoredResult]) -> list[dict]:
        names = await self._names(live, sorted({u for r in results for u in r.winners}))
        return [{"rule_id": r.rule_id, "period": r.period, "seed_hash": r.seed_hash, "seed": r.seed,
                 "entrants": r.entrants, "entrants_hash": r.entrants_hash,
                 "winners": [{"user_id": u, **names[u]} for u in r.winners], "run_at": iso(r.run_at)}
                for r in results]


# -- the endpoint ------------------------------------------------------------------------------


class RoomStream:
    def __init__(self, runtime) -> None:
        self._rt = runtime

    async def __call__(self, scope, receive, send) -> None:
        rt = self._rt
        hub: RoomHub = rt.room
        try:
            if scope["method"] != "GET":
                raise MethodNotAllowed("use GET")
            campaign_id = scope["path"][len(_PREFIX):-len(_SUFFIX)]
            if not campaign_id or "/" in campaign_id:
                raise NotFound("no such room stream")
            now = clock.now_ms()
            tenant_id, expires_at = await self._authenticate(scope, campaign_id, now)
            await rt.live.get(tenant_id, campaign_id)
            sub, first = await hub.subscribe((tenant_id, campaign_id))
        except LiveloopError as exc:
            await send_json_cors(send, exc.status, exc.body())
            return
        watcher = asyncio.ensure_future(close_on_disconnect(receive, sub))
        try:
            lifetime = hub.max_lifetime_seconds
            if expires_at is not None:
                lifetime = min(lifetime, (expires_at - now) / 1000)
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send({"type": "http.response.body", "body": b"retry: 2000\n\n" + first, "more_body": True})
            await pump_frames(send, sub, hub.heartbeat_seconds, clock.monotonic() + lifetime)
        finally:
            hub.unsubscribe(sub)
            watcher.cancel()

    async def _authenticate(self, scope, campaign_id: str, now: int) -> tuple[str, int | None]:
        """(tenant, token expiry): a room token from `?token=`, else the tenant's API key."""
        query = scope.get("query_string", b"")
        token = (parse_qs(query.decode("latin-1")).get("token") or [None])[0] if query else None
        if token:
            room = verify_room_token(self._rt.secret_key, token, now=now)
            if room.campaign_id != campaign_id:
                raise Unauthorized("this room token is for another campaign", field="token")
            return room.tenant_id, room.expires_at
        tenant = await self._rt.api_keys.tenant(header(scope, b"authorization") or None)
        return tenant.id, None


def add_room_stream_docs(api) -> None:
    """The room stream in the OpenAPI document (a bare handler, which FastAPI cannot see)."""
    build = api.openapi
    path = "/v1/campaigns/{cid}/room-stream"

    def openapi() -> dict:
        schema = build()
        if path not in schema["paths"]:
            error = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
            schema["paths"][path] = {"get": {
                "tags": ["realtime"],
                "summary": "The room's server-sent events for the host's overlay and the console: top 10, counters "
                           "and draw results, at most one snapshot every 250 ms",
                "parameters": [
                    {"name": "cid", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                     "description": "a room token from POST /v1/campaigns/{cid}/room-tokens, instead of the API key"},
                ],
                "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                              "401": error, "404": error, "429": error},
            }}
        return schema

    api.openapi = openapi  # type: ignore[method-assign]
