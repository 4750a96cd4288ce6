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
several processes, events logged by another one arrive through the log fan-out (events/fanout.py)
as caught-up effects, which mark the room dirty like local ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from liveloop.draws import repository as draws_repository
from liveloop.draws.notices import won_period
from liveloop.draws.service import StoredResult
from liveloop.engine.model import RewardIssued
from liveloop.events.committed import Committed, DrawCompleted
from liveloop.events.gate import CampaignGate
from liveloop.events.live import LiveCampaign
from liveloop.kit import clock
from liveloop.kit.db.database import Database
from liveloop.kit.money import to_decimal_str
from liveloop.kit.times import iso
from liveloop.markets.catalogue import get_market
from liveloop.markets.policy import leaderboard_name
from liveloop.realtime.hub import Subscriber, TooManyStreams, reconnect_after
from liveloop.users.repository import NameLookup

log = logging.getLogger("liveloop.realtime.room")

RoomKey = tuple[str, str]  # (tenant_id, campaign_id)


@dataclass(slots=True)
class _Room:
    subscribers: set[Subscriber] = field(default_factory=set)
    dirty: bool = False
    timer: asyncio.TimerHandle | None = None
    flushing: bool = False
    last_sent: float = float("-inf")
    draws: deque[dict] | None = None  # recent results, loaded on first subscribe
    announced: set[tuple[str, str]] = field(default_factory=set)  # (rule_id, period) known to the room


# (tenant_id, campaign_id) -> fields added to the room's snapshot
Extra = Callable[[str, str], Awaitable[dict]]


class RoomHub:
    def __init__(self, db: Database, live: CampaignGate, names: NameLookup, *, interval: float = 0.25, top: int = 10,
                 recent_draws: int = 10, max_streams_per_room: int = 1000, queue_size: int = 20,
                 heartbeat_seconds: float = 15.0, max_lifetime_seconds: float = 1800.0,
                 extras: tuple[Extra, ...] = ()) -> None:
        self.interval = interval
        self.heartbeat_seconds = heartbeat_seconds
        self.max_lifetime_seconds = max_lifetime_seconds
        self._db = db
        self._live = live
        self._users = names
        self._top = top
        self._recent = recent_draws
        self._max_streams = max_streams_per_room
        self._queue_size = queue_size
        self._rooms: dict[RoomKey, _Room] = {}
        self._tasks: set[asyncio.Task] = set()  # pushes under way: referenced so they are not collected
        self._closed_with: int | None = None  # shutting down: streams end at once, reconnecting within this
        self._last_id = clock.now_ms() * 1000
        self._extras = extras  # more of the room in each snapshot (e.g. the questions queue's head)

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
        if self._closed_with is not None:
            sub.close(reconnect_after(self._closed_with))
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

    def close(self, *, reconnect_within_ms: int = 0) -> int:
        """Ends every open room stream and those opened from now on (shutdown), like Hub.close."""
        self._closed_with = reconnect_within_ms
        ended = 0
        for room in self._rooms.values():
            for sub in room.subscribers:
                if not sub.closed:
                    sub.close(reconnect_after(reconnect_within_ms))
                    ended += 1
        return ended

    # -- changes ---------------------------------------------------------------------------

    def on_committed(self, committed: Committed) -> None:
        """Committed effects mark their campaigns' rooms dirty (only rooms someone watches exist); a draw
        run here, or a winner's prize applied here, announces the draw's result."""
        if not self._rooms:
            return
        tenant_id = committed.tenant_id
        seen = None
        for live, effect in committed.effects:
            cls = type(effect)
            if cls is DrawCompleted:
                self.draw_result(tenant_id, live.state.config.id, effect.result)
            elif cls is RewardIssued and effect.reward.role == "winner":
                found = won_period(live, effect.reward)
                if found is not None:
                    self.draw_logged(tenant_id, live.state.config.id, found[0].id, found[1])
            if live is seen:
                continue
            seen = live
            key = (tenant_id, live.state.config.id)
            room = self._rooms.get(key)
            if room is not None:
                self._mark(key, room)

    def touch(self, tenant_id: str, campaign_id: str) -> None:
        """Something an extra shows changed (a question asked or answered): a new snapshot soon, here
        and on the other processes (the gate tells them; they call `touched_elsewhere`)."""
        self.touched_elsewhere(tenant_id, campaign_id)
        self._live.touched(tenant_id, campaign_id)

    def touched_elsewhere(self, tenant_id: str, campaign_id: str) -> None:
        """The room's extras changed (here, or on another process): a new snapshot soon."""
        key = (tenant_id, campaign_id)
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
            results = await self._db.read(lambda conn: draws_repository.stored_results(
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
        }
        for extra in self._extras:
            payload.update(await extra(*key))
        # Taken after the last await: a draw pushed while the snapshot was being built is in it.
        payload["draws"] = list(room.draws or ())
        payload["at"] = iso(clock.now_ms())
        return self._frame(payload)

    async def _names(self, live: LiveCampaign, user_ids: list[str]) -> dict[str, dict]:
        """Display names as a public leaderboard shows them (masked where the market's policy says so)."""
        tenant_id = live.state.config.tenant_id
        people = await self._users.names_and_consents(tenant_id, user_ids) if user_ids else {}
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
        results = await self._db.read(lambda conn: draws_repository.recent_results(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, limit=self._recent))
        return await self._draw_summaries(live, results)

    async def _draw_summaries(self, live: LiveCampaign, results: list[StoredResult]) -> list[dict]:
        names = await self._names(live, sorted({u for r in results for u in r.winners}))
        return [{"rule_id": r.rule_id, "period": r.period, "seed_hash": r.seed_hash, "seed": r.seed,
                 "entrants": r.entrants, "entrants_hash": r.entrants_hash,
                 "winners": [{"user_id": u, **names[u]} for u in r.winners], "run_at": iso(r.run_at)}
                for r in results]
