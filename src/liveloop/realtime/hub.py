"""The realtime hub: turns committed engine effects into messages on viewers' streams.

Everything here runs on the event loop thread, so nothing needs a lock. A viewer is one
(tenant, campaign, user); each has a bounded buffer of its latest messages (for `Last-Event-ID`
resume) and its open connections, each with a bounded queue that drops its oldest messages when
the client reads too slowly. Only viewers who have connected at least once get a buffer, so the
ingestion of events for users who never open the widget costs one dict lookup per effect.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import sqlalchemy as sa

from liveloop.engine.model import FriendActivity, RewardIssued, RewardStatusChanged, ScoreChanged
from liveloop.events.committed import Committed
from liveloop.i18n.stream import stream_text, viewer_locale
from liveloop.kit import clock
from liveloop.kit.errors import TooManyRequests
from liveloop.kit.money import to_decimal_str
from liveloop.kit.times import iso
from liveloop.ops import metrics
from liveloop.rewards.views import reward_read
from liveloop.users.repository import NameLookup

log = logging.getLogger("liveloop.realtime")

Key = tuple[str, str, str]  # (tenant_id, campaign_id, user_id)
Voice = tuple[str, str]  # (locale tag, time zone) a viewer's message texts are written in


# An open stream frees its place when it closes, which no clock tells: come back in a few seconds.
OPEN_STREAMS_RETRY_SECONDS = 10


class TooManyStreams(TooManyRequests):
    """A viewer, a room or a client address already has as many open streams as allowed: a 429
    like any other limit."""

    code = "too_many_streams"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=OPEN_STREAMS_RETRY_SECONDS)


class Subscriber:
    """One open stream: a bounded queue of SSE frames and a way to wake its sender.

    Its sender (`pump_frames`) sleeps until a frame is queued, the stream is closed, or the stream's
    one timer says a ping or the end of its lifetime is due. The timer is lazy: a frame sent does not
    move it; when it fires early (frames went out meanwhile) it is set again for the quiet spell's
    end. A timer per wait (asyncio.timeout) cost a quarter of each push at thousands of pushes a second.
    """

    __slots__ = ("key", "frames", "closed", "retry_ms", "due", "sent_at", "_waiter", "_timer", "_heartbeat",
                 "_deadline", "_loop")

    def __init__(self, key: Key, limit: int) -> None:
        self.key = key
        self.frames: deque[bytes] = deque(maxlen=limit)
        self.closed = False
        self.retry_ms: int | None = None  # set when the server ends the stream: reconnect after this long
        self.due = False  # the timer fired: a ping (or the end of the stream's lifetime) is due
        self.sent_at = 0.0  # monotonic time of the last write to the client
        self._waiter: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._heartbeat = 0.0
        self._deadline = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def push(self, frame: bytes) -> None:
        self.frames.append(frame)  # a full queue drops its oldest frame: slow readers lose the stale ones
        self._wake()

    def close(self, retry_ms: int | None = None) -> None:
        self.closed = True
        self.retry_ms = retry_ms
        self._wake()

    async def wait(self, timeout: float) -> None:
        """Return when a frame is queued, the stream is closed, or `timeout` seconds have passed."""
        if self.frames or self.closed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            pass
        finally:
            self._waiter = None

    def start(self, heartbeat: float, deadline: float) -> None:
        """Time this stream: a ping after `heartbeat` seconds without a write, the end at `deadline`
        (monotonic); `woken` returns when either is due."""
        self._loop = asyncio.get_running_loop()
        self._heartbeat, self._deadline = heartbeat, deadline
        self.sent_at = clock.monotonic()
        self._arm(self.sent_at)

    def sent(self, now: float) -> None:
        """A write went out at `now`: the next ping is due a heartbeat later."""
        self.sent_at = now
        if self.due:
            self.due = False
            self._arm(now)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def woken(self) -> None:
        """Return when a frame is queued, the stream is closed, or a ping or the end is due."""
        if self.frames or self.closed or self.due:
            return
        assert self._loop is not None, "start() first"
        waiter = self._loop.create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    def _arm(self, now: float) -> None:
        assert self._loop is not None
        self._timer = self._loop.call_later(max(0.0, min(self.sent_at + self._heartbeat, self._deadline) - now),
                                            self._tick)

    def _tick(self) -> None:
        self._timer = None
        now = clock.monotonic()
        if now >= min(self.sent_at + self._heartbeat, self._deadline):
            self.due = True
            self._wake()
        else:
            self._arm(now)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@dataclass(slots=True)
class _Viewer:
    buffer: deque[tuple[int, bytes]]
    subscribers: set[Subscriber] = field(default_factory=set)
    voice: Voice | None = None
    voice_checked: bool = False  # the user's locale is read again with the first message of each new stream


class Hub:
    def __init__(
        self,
        *,
        names: NameLookup | None = None,
        buffer_size: int = 200,
        max_viewers: int = 50_000,
        queue_size: int = 500,
        max_streams_per_viewer: int = 10,
        heartbeat_seconds: float = 15.0,
        max_lifetime_seconds: float = 1800.0,
    ) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.max_lifetime_seconds = max_lifetime_seconds
        self._names = names
        self._buffer_size = buffer_size
        self._max_viewers = max_viewers
        self._queue_size = queue_size
        self._max_streams = max_streams_per_viewer
        self._viewers: OrderedDict[Key, _Viewer] = OrderedDict()
        # Ids grow across restarts too (they start at the boot time in µs), so a client resuming
        # with an id from before a restart is never handed an older message as new.
        self._last_id = clock.now_ms() * 1000
        # batches waiting for display names: (tenant_id, messages, unheard, received_at)
        self._pending: deque[tuple[str, list, dict, int | None]] = deque()
        self._pump: asyncio.Task | None = None
        self._closed_with: int | None = None  # shutting down: streams end at once, reconnecting within this
        # Called with a viewer's key when a stream of theirs opens (what they missed that is still
        # worth telling, e.g. a running flash deal); each must return at once.
        self.opened: list[Callable[[Key], None]] = []

    # -- connections -----------------------------------------------------------------------

    def subscribe(self, key: Key, last_event_id: int | None = None) -> tuple[Subscriber, list[bytes]]:
        """A new stream for `key`, and the buffered frames after `last_event_id` to send first."""
        viewer = self._viewer(key)
        if len(viewer.subscribers) >= self._max_streams:
            raise TooManyStreams(f"at most {self._max_streams} open streams per viewer")
        sub = Subscriber(key, self._queue_size)
        viewer.subscribers.add(sub)
        viewer.voice_checked = False
        if self._closed_with is not None:
            sub.close(reconnect_after(self._closed_with))
        replay = [] if last_event_id is None else [frame for i, frame in viewer.buffer if i > last_event_id]
        for listener in self.opened:
            listener(key)
        return sub, replay

    def unsubscribe(self, sub: Subscriber) -> None:
        viewer = self._viewers.get(sub.key)
        if viewer is not None:
            viewer.subscribers.discard(sub)

    def close(self, *, reconnect_within_ms: int = 0) -> int:
        """Ends every open stream, and those opened from now on (shutdown); with `reconnect_within_ms`,
        each client is told to reconnect at a random moment within it (to another process: all at once
        they would crowd it). Returns how many streams it ended."""
        self._closed_with = reconnect_within_ms
        ended = 0
        for viewer in self._viewers.values():
            for sub in viewer.subscribers:
                if not sub.closed:
                    sub.close(reconnect_after(reconnect_within_ms))
                    ended += 1
        if self._pump is not None:
            self._pump.cancel()
        return ended

    def _viewer(self, key: Key) -> _Viewer:
        viewer = self._viewers.get(key)
        if viewer is not None:
            self._viewers.move_to_end(key)
            return viewer
        viewer = self._viewers[key] = _Viewer(deque(maxlen=self._buffer_size))
        # Forget the buffers of the viewers least recently heard of, never of a connected one.
        for _ in range(len(self._viewers)):
            if len(self._viewers) <= self._max_viewers:
                break
            oldest_key, oldest = next(iter(self._viewers.items()))
            if oldest.subscribers:
                self._viewers.move_to_end(oldest_key)
            else:
                del self._viewers[oldest_key]
        return viewer

    # -- publishing --------------------------------------------------------------------------

    def publish(self, key: Key, payload: dict) -> None:
        """Give `payload` the next id, buffer it for resume and queue it on the viewer's streams."""
        viewer = self._viewers.get(key)
        if viewer is None:
            return
        if viewer.voice is not None and "text" not in payload:
            _add_text(payload, viewer.voice)
        self._last_id += 1
        frame = b"id: %d\ndata: %b\n\n" % (self._last_id, orjson.dumps(payload))
        viewer.buffer.append((self._last_id, frame))
        for sub in viewer.subscribers:
            sub.push(frame)

    def viewers_of(self, tenant_id: str, campaign_id: str) -> list[str]:
        """The users of a campaign with a stream open on this process (a flash deal for everyone; the
        others are told when their stream opens, see `opened`)."""
        return [key[2] for key, viewer in self._viewers.items()
                if viewer.subscribers and key[1] == campaign_id and key[0] == tenant_id]

    def on_committed(self, committed: Committed) -> None:
        """Effects that are durable now become messages on the viewers' streams."""
        tenant_id, effects = committed.tenant_id, committed.effects
        messages = self._messages(tenant_id, effects)
        if not messages:
            return
        unheard = self._unheard(effects, messages)
        needs_names = self._names is not None and (bool(unheard) or any(friend for _k, _p, friend in messages))
        if not self._pending and not needs_names:
            self._publish_all(messages, {}, unheard)
            _timed(committed.received_at)
            return
        # Name and locale lookups are awaited; later batches queue behind them so each viewer's order holds.
        self._pending.append((tenant_id, messages, unheard, committed.received_at))
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._drain())

    def _messages(self, tenant_id: str, effects: list) -> list[tuple[Key, dict, str | None]]:
        viewers = self._viewers
        out: list[tuple[Key, dict, str | None] | None] = []
        rank_index: dict[Key, int] = {}
        now = None
        for live, effect in effects:
            cls = type(effect)
            if cls is FriendActivity:
                key = (tenant_id, live.state.config.id, effect.referrer)
                if key in viewers:
                    friend = {"user_id": effect.friend, "display_name": None} if effect.friend else None
                    out.append((key, {"type": f"friend_{effect.kind}", "friend": friend}, effect.friend))
            elif cls is RewardIssued or cls is RewardStatusChanged:
                reward = effect.reward
                key = (tenant_id, live.state.config.id, reward.user_id)
                if key in viewers:
                    now = now or clock.now_ms()
                    out.append((key, {"type": "reward", "reward": reward_read(reward, now), "at": iso(now)}, None))
            elif cls is ScoreChanged:
                key = (tenant_id, live.state.config.id, effect.user_id)
                if key in viewers:
                    # Several changes of one user in a batch: only the last one is worth a message.
                    if key in rank_index:
                        out[rank_index[key]] = None
                    rank_index[key] = len(out)
                    out.append((key, _rank_message(live, effect), None))
        if out:
            stamp = iso(now or clock.now_ms())
            for item in out:
                if item is not None:
                    item[1].setdefault("at", stamp)
        return [item for item in out if item is not None]

    def _unheard(self, effects: list, messages: list) -> dict[Key, tuple[str, str]]:
        """The campaign's (market, time zone) of each viewer in `messages` whose locale is to be read."""
        lives = {live.state.config.id: live for live, _effect in effects}
        unheard: dict[Key, tuple[str, str]] = {}
        for item in messages:
            viewer, live = self._viewers.get(item[0]), lives.get(item[0][1])
            if viewer is not None and live is not None and not viewer.voice_checked:
                unheard[item[0]] = (live.body["market"], live.body["timezone"])
        return unheard

    def _publish_all(self, messages: list[tuple[Key, dict, str | None]],
                     people: dict[str, tuple[str | None, str | None]], unheard: dict[Key, tuple[str, str]]) -> None:
        for key, (market, tz) in unheard.items():
            viewer = self._viewers.get(key)
            if viewer is not None and not viewer.voice_checked:
                viewer.voice = (viewer_locale(people.get(key[2], (None, None))[1], market), tz)
                viewer.voice_checked = True
        for key, payload, friend in messages:
            if friend is not None:
                payload["friend"]["display_name"] = people.get(friend, (None, None))[0]
            self.publish(key, payload)

    async def _drain(self) -> None:
        try:
            while self._pending:
                # Every batch queued meanwhile goes with this lookup: one read per tenant for all of
                # them, not one per committed batch (under a burst the reads, one after another, were
                # what the pushes waited for). Batches queued during the read wait for the next round.
                batches = list(self._pending)
                wanted: dict[str, set[str]] = {}
                for tenant_id, messages, unheard, _received_at in batches:
                    users = wanted.setdefault(tenant_id, set())
                    users.update(friend for _k, _p, friend in messages if friend)
                    users.update(key[2] for key in unheard)
                people: dict[str, dict[str, tuple[str | None, str | None]]] = {}
                for tenant_id, users in wanted.items():
                    people[tenant_id] = {}
                    if users and self._names is not None:
                        try:
                            people[tenant_id] = await self._names.names_and_locales(tenant_id, sorted(users))
                        except (sa.exc.SQLAlchemyError, OSError):
                            log.warning("display names and locales unavailable; pushed without them", exc_info=True)
                for tenant_id, messages, unheard, received_at in batches:
                    self._pending.popleft()
                    self._publish_all(messages, people[tenant_id], unheard)
                    _timed(received_at)
        finally:
            self._pump = None


def reconnect_after(within_ms: int) -> int | None:
    """A moment to reconnect at, spread over `within_ms` (None: say nothing, the client's default holds)."""
    return random.randint(within_ms // 4, within_ms) if within_ms > 0 else None


def _timed(received_at: int | None) -> None:
    """One committed write's messages are queued on the streams: how long after its event arrived."""
    if received_at is not None:
        metrics.PUSH_SECONDS.observe(max(0, clock.now_ms() - received_at) / 1000)


def _rank_message(live, effect: ScoreChanged) -> dict:
    config = live.state.config
    score: int | str | None = effect.score
    if config.leaderboard_metric == "gmv":
        score = to_decimal_str(effect.score, config.currency)
    return {"type": "rank", "metric": config.leaderboard_metric, "score": score,
            "rank": live.state.leaderboard.rank(effect.user_id)}


def _add_text(payload: dict, voice: Voice) -> None:
    """The message in the viewer's words, as `text` (none for messages a viewer is not told of)."""
    try:
        text = stream_text(payload, *voice)
    except Exception:  # noqa: BLE001 - a message without its text is still worth pushing
        log.exception("could not write the text of a %s message", payload.get("type"))
        return
    if text is not None:
        payload["text"] = text

