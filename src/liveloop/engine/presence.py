"""Room presence: one user's joins, leaves and heartbeats, and the watch time they add up to.

Pure and deterministic like the rest of the engine. A user's room events are kept as marks
sorted by their own event time (ties in arrival order), and the presence is the left fold of
those marks, so a notice that arrives late still lands where it happened.

- `room_join` opens a presence (a join while present starts it again: the leave in between was
  missed, so the gap is not credited);
- `room_heartbeat` proves an open presence is still there (it never opens one);
- `room_leave` closes a presence; `room_timeout` and `room_end` close it too, when liveloop had
  to infer the end (the widget fell silent, or the room finished while the leave never came).

Watch time counts only inside the campaign window. A join counts for `joins` at the earliest
instant when the user has both a `room_join` inside the window and, if the campaign asks for
`min_watch_seconds`, that much watch time inside the window.

Bounded and incremental: a mark that comes after every kept mark (nearly all of them) is folded
onto the current presence in O(1); a late one refolds only the kept marks from the settled base.
At most `KEPT_MARKS` marks are kept: past that, the oldest are settled, folded into the base and
forgotten, so a viewer who joins and leaves all evening costs a bounded amount of memory. A mark
that lands before the settled base (more than about `KEPT_MARKS // 2` of the user's own marks
late) can no longer be put in its place: its join still counts (`first_join`: SPEC 2, a join that
happened counts however late it arrives), and otherwise it changes nothing. Every other sequence
gives exactly what folding all its marks gives (tests/unit/test_presence_marks.py checks both).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass, field

JOIN, HEARTBEAT, LEAVE, TIMEOUT, END = range(5)
MARKS = {"room_join": JOIN, "room_heartbeat": HEARTBEAT, "room_leave": LEAVE, "room_timeout": TIMEOUT,
         "room_end": END}

# Past this many kept marks, the oldest ones are settled down to half of it. A mark costs about
# 150 bytes; a viewer with a normal evening has a handful, and 128 covers a flaky connection's
# reconnects over the minutes a provider's late notices take.
KEPT_MARKS = 128

# The fold's state: (open_at, watched, first_join, reached_at, timeouts, ends).
Fold = tuple[int | None, int, int | None, int | None, int, int]
EMPTY: Fold = (None, 0, None, None, 0, 0)


@dataclass(frozen=True, slots=True)
class Window:
    """The campaign window and the watch time a join needs (all in ms)."""

    start: int
    end: int
    minimum: int = 0


def fold(state: Fold, marks: Iterable[tuple[int, int, int]], window: Window) -> Fold:
    """The presence after `marks` (in order) follow the presence `state`."""
    start, end, minimum = window.start, window.end, window.minimum
    open_at, watched, first_join, reached, timeouts, ends = state
    for at, _arrival, kind in marks:
        if kind == JOIN:
            if first_join is None and start <= at <= end:
                first_join = at
            # A join while present means the leave in between never came (or is still on its
            # way): the presence starts again here, crediting nothing for the gap.
            open_at = at
            continue
        if open_at is None:
            continue  # a heartbeat or a close of a presence that is not open
        low, high = max(open_at, start), min(at, end)
        if high > low:
            if reached is None and watched + high - low >= minimum:
                reached = low + minimum - watched
            watched += high - low
        if kind >= LEAVE:
            open_at = None
            if kind == TIMEOUT:
                timeouts += 1
            elif kind == END:
                ends += 1
        else:
            open_at = at
    return open_at, watched, first_join, reached, timeouts, ends


@dataclass(slots=True)
class Presence:
    """One user's presence in the room: the settled base, the kept marks (at, arrival, kind) after
    it, and their fold."""

    marks: list[tuple[int, int, int]] = field(default_factory=list)
    arrivals: int = 0
    base: Fold = EMPTY  # the fold of the settled marks
    settled_at: int | None = None  # the event time of the last settled mark
    open_at: int | None = None  # the latest evidence of the open presence; None when closed
    watched: int = 0  # ms inside the window
    first_join: int | None = None  # earliest room_join inside the window
    reached_at: int | None = None  # when `watched` reached the window's minimum
    timeouts: int = 0  # presences closed because the widget fell silent
    ends: int = 0  # presences closed because the room finished before the leave came

    @property
    def open(self) -> bool:
        return self.open_at is not None

    def add(self, kind: int, at: int, window: Window) -> None:
        """Take one mark into account."""
        key = (at, self.arrivals, kind)
        self.arrivals += 1
        marks = self.marks
        if self.settled_at is not None and at < self.settled_at:
            self._add_settled(kind, at, window)
            return
        if marks and key < marks[-1]:
            if kind == HEARTBEAT:
                return  # a later mark already says more than this heartbeat
            insort(marks, key)
            self._set(fold(self.base, marks, window))
        else:
            # A heartbeat followed by a later heartbeat, leave or close adds nothing: keep the last.
            # Before a join it does: the join restarts the presence, and the heartbeat is where
            # the time watched until then ends. Either way the fold goes on from where it is
            # (the dropped heartbeat split one interval in two; the sum is the same).
            if marks and marks[-1][2] == HEARTBEAT and kind != JOIN:
                marks.pop()
            marks.append(key)
            self._set(fold(self._state(), (key,), window))
        if len(marks) > KEPT_MARKS:
            self._settle(len(marks) - KEPT_MARKS // 2, window)

    def qualified_at(self, window: Window) -> int | None:
        """When this user's join counts for `joins`, or None (not yet)."""
        if self.first_join is None:
            return None
        if window.minimum <= 0:
            return self.first_join
        if self.reached_at is None:
            return None
        return max(self.first_join, self.reached_at)

    def watched_until(self, at: int, window: Window) -> int:
        """Watch time (ms, inside the window) if the open presence lasts until `at`.

        A presence still open when the room ended was closed by that end: its time up to then counts.
        """
        if self.open_at is None:
            return self.watched
        return self.watched + max(0, min(at, window.end) - max(self.open_at, window.start))

    def due(self, window: Window) -> int | None:
        """When the open presence would qualify if it simply lasts, for a presence still waiting."""
        if self.open_at is None or window.minimum <= 0 or self.first_join is None or self.reached_at is not None:
            return None
        at = max(self.open_at, window.start) + window.minimum - self.watched
        at = max(at, self.first_join)
        return at if at <= window.end else None

    def _add_settled(self, kind: int, at: int, window: Window) -> None:
        # Its place is among marks already forgotten: only the join itself can still count.
        if kind != JOIN or not window.start <= at <= window.end:
            return
        base = self.base
        if base[2] is None or at < base[2]:
            self.base = (base[0], base[1], at, base[3], base[4], base[5])
        if self.first_join is None or at < self.first_join:
            self.first_join = at

    def _settle(self, count: int, window: Window) -> None:
        settled = self.marks[:count]
        self.base = fold(self.base, settled, window)
        self.settled_at = settled[-1][0]
        del self.marks[:count]

    def _state(self) -> Fold:
        return self.open_at, self.watched, self.first_join, self.reached_at, self.timeouts, self.ends

    def _set(self, state: Fold) -> None:
        self.open_at, self.watched, self.first_join, self.reached_at, self.timeouts, self.ends = state


@dataclass(slots=True)
class RoomTotals:
    """Campaign-wide sums over every user's presence, kept up to date mark by mark."""

    viewers: int = 0
    watched: int = 0
    timeouts: int = 0
    ends: int = 0

    def remove(self, presence: Presence) -> None:
        self.watched -= presence.watched
        self.timeouts -= presence.timeouts
        self.ends -= presence.ends

    def add(self, presence: Presence) -> None:
        self.watched += presence.watched
        self.timeouts += presence.timeouts
        self.ends += presence.ends
