"""Room presence: one user's joins, leaves and heartbeats, and the watch time they add up to.

Pure and deterministic like the rest of the engine. A user's room events are kept as marks
sorted by their own event time (ties in arrival order), and the presence is recomputed from
the marks whenever one arrives, so a notice that arrives late still lands where it happened.

- `room_join` opens a presence (a join while present starts it again: the leave in between was
  missed, so the gap is not credited);
- `room_heartbeat` proves an open presence is still there (it never opens one);
- `room_leave` closes a presence; `room_timeout` and `room_end` close it too, when liveloop had
  to infer the end (the widget fell silent, or the room finished while the leave never came).

Watch time counts only inside the campaign window. A join counts for `joins` at the earliest
instant when the user has both a `room_join` inside the window and, if the campaign asks for
`min_watch_seconds`, that much watch time inside the window.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field

JOIN, HEARTBEAT, LEAVE, TIMEOUT, END = range(5)
MARKS = {"room_join": JOIN, "room_heartbeat": HEARTBEAT, "room_leave": LEAVE, "room_timeout": TIMEOUT,
         "room_end": END}


@dataclass(frozen=True, slots=True)
class Window:
    """The campaign window and the watch time a join needs (all in ms)."""

    start: int
    end: int
    minimum: int = 0


@dataclass(slots=True)
class Presence:
    """One user's presence in the room, recomputed from their marks (at, arrival, kind)."""

    marks: list[tuple[int, int, int]] = field(default_factory=list)
    arrivals: int = 0
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
        if marks and key < marks[-1]:
            if kind == HEARTBEAT:
                return  # a later mark already says more than this heartbeat
            insort(marks, key)
        else:
            # A heartbeat followed by a later heartbeat, leave or close adds nothing: keep the last.
            # Before a join it does: the join restarts the presence, and the heartbeat is where
            # the time watched until then ends.
            if marks and marks[-1][2] == HEARTBEAT and kind != JOIN:
                marks.pop()
            marks.append(key)
        self._recompute(window)

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

    def _recompute(self, window: Window) -> None:
        start, end, minimum = window.start, window.end, window.minimum
        open_at: int | None = None
        watched = timeouts = ends = 0
        first_join = reached = None
        for at, _arrival, kind in self.marks:
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
        self.open_at = open_at
        self.watched = watched
        self.first_join = first_join
        self.reached_at = reached
        self.timeouts = timeouts
        self.ends = ends


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
