"""An incremental leaderboard: top N and any user's rank in O(log n), never a sort per request.

Order (SPEC section 3): highest score first, then who reached the score first, then user_id.
"""

from __future__ import annotations

from sortedcontainers import SortedList


class Leaderboard:
    __slots__ = ("_keys", "_sorted", "changed", "change_seq")

    def __init__(self) -> None:
        self._sorted: SortedList = SortedList()
        self._keys: dict[str, tuple[int, int, str]] = {}
        # Users whose entry changed since this was last emptied, with the log position of the change
        # (`change_seq`, set by whoever applies events), kept only when a copy of the board lives
        # elsewhere (Redis, with several processes) and must be brought up to date.
        self.changed: dict[str, int] | None = None
        self.change_seq = 0

    def track_changes(self, change_seq: int) -> None:
        if self.changed is None:
            self.changed = {}
        self.change_seq = change_seq

    def update(self, user_id: str, score: int, reached_at: int) -> int:
        """Set a user's entry; returns the score it had before (0 when not listed)."""
        old = self._keys.get(user_id)
        key = (-score, reached_at, user_id) if score > 0 else None
        if key == old:
            return score  # an unchanged entry costs no SortedList work (nor a Redis write)
        if self.changed is not None:
            self.changed[user_id] = self.change_seq
        if old is not None:
            self._sorted.remove(old)
            del self._keys[user_id]
        if key is not None:
            self._keys[user_id] = key
            self._sorted.add(key)
        return -old[0] if old is not None else 0

    def top(self, limit: int) -> list[tuple[int, str, int]]:
        """[(rank, user_id, score)] of the first `limit` entries."""
        return [(i + 1, key[2], -key[0]) for i, key in enumerate(self._sorted.islice(0, limit))]

    def page_after(self, after: tuple[int, int, str] | None, limit: int) -> list[tuple[int, str, int, int]]:
        """[(rank, user_id, score, reached_at)] of up to `limit` entries that come after the entry
        `after` = (score, reached_at, user_id) in the board's order (from the top when None)."""
        start = 0 if after is None else self._sorted.bisect_right((-after[0], after[1], after[2]))
        return [(start + i + 1, key[2], -key[0], key[1])
                for i, key in enumerate(self._sorted.islice(start, start + limit))]

    def entry(self, user_id: str) -> tuple[int, int] | None:
        """(score, reached_at) of a listed user; None for a user not on the board (score 0)."""
        key = self._keys.get(user_id)
        return (-key[0], key[1]) if key is not None else None

    def entries(self):
        """Every listed user as (user_id, score, reached_at), in no particular order."""
        return ((key[2], -key[0], key[1]) for key in self._keys.values())

    def score(self, user_id: str) -> int:
        key = self._keys.get(user_id)
        return -key[0] if key is not None else 0

    def rank(self, user_id: str) -> int | None:
        key = self._keys.get(user_id)
        if key is None:
            return None
        return self._sorted.index(key) + 1

    def __len__(self) -> int:
        return len(self._sorted)
