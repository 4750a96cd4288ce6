"""Room presence keeps a bounded number of marks and folds them incrementally, with the results of
folding every mark from the start (the presence as it was before it was bounded)."""

from __future__ import annotations

from bisect import insort
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.engine import presence as presence_module
from liveloop.engine.presence import EMPTY, HEARTBEAT, JOIN, LEAVE, Presence, Window, fold

START, END = 1_000, 9_000
WINDOWS = st.sampled_from([Window(START, END, 0), Window(START, END, 500), Window(START, END, 3_000)])
KINDS = st.sampled_from([0, 0, 1, 1, 2, 2, 3, 4])  # joins, heartbeats and leaves more often than closes
TIMES = st.integers(0, 10_000)


class AllMarks:
    """The presence before it was bounded: every mark kept, every mark a fold from the start."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, int, int]] = []
        self.arrivals = 0
        self.state = EMPTY

    def add(self, kind: int, at: int, window: Window) -> None:
        key = (at, self.arrivals, kind)
        self.arrivals += 1
        marks = self.marks
        if marks and key < marks[-1]:
            if kind == HEARTBEAT:
                return
            insort(marks, key)
        else:
            if marks and marks[-1][2] == HEARTBEAT and kind != JOIN:
                marks.pop()
            marks.append(key)
        self.state = fold(EMPTY, marks, window)


def observed(p: Presence, window: Window) -> tuple:
    return (p.open_at, p.watched, p.first_join, p.reached_at, p.timeouts, p.ends, p.qualified_at(window),
            p.due(window), p.watched_until(END, window))


def expected(old: AllMarks, window: Window) -> tuple:
    p = Presence()
    p.open_at, p.watched, p.first_join, p.reached_at, p.timeouts, p.ends = old.state
    return observed(p, window)


def assert_same_after_each_mark(sequence: list[tuple[int, int]], window: Window) -> None:
    new, old = Presence(), AllMarks()
    for kind, at in sequence:
        new.add(kind, at, window)
        old.add(kind, at, window)
        assert observed(new, window) == expected(old, window)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(KINDS, TIMES), max_size=60), WINDOWS)
def test_marks_in_any_order_give_what_folding_them_all_gives(sequence, window):
    assert_same_after_each_mark(sequence, window)


@st.composite
def late_by_at_most(draw, lateness: int, size: int) -> list[tuple[int, int]]:
    """A long sequence in event-time order whose marks arrive up to `lateness` positions late or early."""
    marks = draw(st.lists(st.tuples(KINDS, st.integers(1, 40)), min_size=size, max_size=2 * size))
    at, timed = 0, []
    for kind, step in marks:
        at += step
        timed.append((kind, at))
    offsets = draw(st.lists(st.integers(0, lateness), min_size=len(timed), max_size=len(timed)))
    order = sorted(range(len(timed)), key=lambda i: (i + offsets[i], i))
    return [timed[i] for i in order]


@settings(max_examples=100, deadline=None)
@given(late_by_at_most(5, 60), WINDOWS)
def test_settling_old_marks_changes_nothing_for_marks_late_by_less_than_what_is_kept(sequence, window):
    with patch.object(presence_module, "KEPT_MARKS", 12):  # settles often: 6 marks kept after settling
        assert_same_after_each_mark(sequence, window)


@settings(max_examples=10, deadline=None)
@given(late_by_at_most(60, 200), WINDOWS)
def test_the_same_with_the_number_of_marks_kept_in_production(sequence, window):
    assert_same_after_each_mark(sequence, window)


def test_a_viewer_who_joins_and_leaves_all_evening_keeps_a_bounded_number_of_marks():
    window = Window(0, 10**9, 60_000)
    p = Presence()
    at = 0
    for _ in range(20_000):
        p.add(JOIN, at, window)
        p.add(HEARTBEAT, at + 10_000, window)
        p.add(LEAVE, at + 20_000, window)
        at += 30_000
        assert len(p.marks) <= presence_module.KEPT_MARKS
    assert p.watched == 20_000 * 20_000 and p.reached_at == 60_000 + 2 * 10_000
    assert not p.open


def test_a_join_from_before_the_settled_marks_still_counts():
    window = Window(0, 10**9, 0)
    p = Presence()
    for i in range(1, 1_000):
        p.add(LEAVE, i * 1_000, window)  # leaves of a presence never opened: closes of nothing
    assert p.settled_at is not None and p.first_join is None
    p.add(JOIN, 500, window)  # the join of the evening, delivered after an outage
    assert p.qualified_at(window) == 500
