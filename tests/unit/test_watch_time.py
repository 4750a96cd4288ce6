"""Room presence in the pure engine: watch time, min_watch_seconds, out-of-order and missing events."""

from __future__ import annotations

import itertools

from liveloop.engine.model import CampaignConfig, Event, MilestoneRule, RewardSpec, Tier
from liveloop.engine.presence import Presence, Window
from liveloop.engine.state import CampaignState

START, END = 1_000_000, 5_000_000
S = 1000  # one second in ms
BADGE = MilestoneRule("hosts", "joins", (Tier(1, RewardSpec("badge", name="Room host")),))


def make(min_watch_seconds: int = 0) -> CampaignState:
    config = CampaignConfig("t1", "c1", "USD", START, END, leaderboard_metric="joins", rules=(BADGE,),
                            min_watch_ms=min_watch_seconds * S)
    state = CampaignState(config, {"ALICE": "alice"})
    state.apply(Event("r-f", "reservation", "friend", START - 10 * S, "ALICE"), 1)
    return state


def room(kind: str, at: int, user: str = "friend", n: list = [0]) -> Event:  # noqa: B006 - a counter
    n[0] += 1
    return Event(f"{kind}-{n[0]}", kind, user, at)


def feed(state: CampaignState, *events: Event) -> list:
    effects = []
    for ev in events:
        effects.extend(state.apply(ev, 7))
    return effects


def joins(state: CampaignState) -> list[int]:
    return state.stats("alice").join_times


def test_without_a_minimum_a_join_in_the_window_counts_at_once():
    s = make()
    feed(s, room("room_join", START - S), room("room_join", END + S))
    assert joins(s) == []  # outside the window
    feed(s, room("room_join", START + 5 * S))
    assert joins(s) == [START + 5 * S]
    assert [r.rule_id for r in s.rewards.values()] == ["hosts"]


def test_a_friend_who_leaves_too_soon_does_not_count():
    s = make(min_watch_seconds=60)
    feed(s, room("room_join", START + 10 * S), room("room_leave", START + 12 * S))
    assert joins(s) == [] and s.rewards == {}
    assert s.room_totals.watched == 2 * S and "friend" not in s.present


def test_the_join_counts_when_the_watch_time_reaches_the_minimum():
    s = make(min_watch_seconds=60)
    effects = feed(s, room("room_join", START + 10 * S))
    assert joins(s) == [] and "friend" in s.present
    assert s.watch_due("friend") == START + 70 * S
    effects = feed(s, room("room_leave", START + 100 * S))
    assert joins(s) == [START + 70 * S]  # reached at join + 60 s, decided by the later leave
    assert [type(e).__name__ for e in effects].count("RewardIssued") == 1
    assert s.watch_due("friend") is None


def test_watch_time_adds_up_over_several_visits_inside_the_window_only():
    s = make(min_watch_seconds=60)
    feed(s, room("room_join", START - 30 * S), room("room_leave", START + 20 * S))  # 20 s inside
    assert joins(s) == []  # its join was before the window
    feed(s, room("room_join", START + 100 * S), room("room_leave", START + 130 * S))  # 30 s
    assert joins(s) == []
    feed(s, room("room_join", START + 200 * S), room("room_leave", START + 300 * S))
    assert joins(s) == [START + 210 * S]  # 20 + 30 + 10
    assert s.room_totals.watched == 150 * S


def test_notices_arriving_in_any_order_give_the_same_presence():
    marks = [("room_join", START + 10 * S), ("room_leave", START + 40 * S), ("room_join", START + 50 * S),
             ("room_leave", START + 90 * S)]
    for order in itertools.permutations(marks):
        s = make(min_watch_seconds=60)
        feed(s, *(room(kind, at) for kind, at in order))
        assert s.room_totals.watched == 70 * S and "friend" not in s.present, order
        # Counted in every order; at 80 s when each leave comes after its join. A leave that comes
        # after a later leave may let the join count sooner: a counted join is never taken back.
        assert len(joins(s)) == 1 and START + 70 * S <= joins(s)[0] <= START + 80 * S, order
    in_time, reversed_ = make(60), make(60)
    feed(in_time, *(room(kind, at) for kind, at in marks))
    feed(reversed_, *(room(kind, at) for kind, at in reversed(marks)))
    assert joins(in_time) == joins(reversed_) == [START + 80 * S]


def test_a_join_while_present_means_a_leave_was_missed():
    s = make(min_watch_seconds=60)
    feed(s, room("room_join", START + 10 * S), room("room_join", START + 100 * S))
    assert s.room_totals.watched == 0 and s.watch_due("friend") == START + 160 * S
    feed(s, room("room_leave", START + 12 * S))  # the missing leave arrives
    assert s.room_totals.watched == 2 * S and s.watch_due("friend") == START + 158 * S


def test_a_heartbeat_proves_an_open_presence_but_never_opens_one():
    s = make(min_watch_seconds=60)
    feed(s, room("room_join", START + 10 * S), room("room_leave", START + 20 * S),
         room("room_heartbeat", START + 200 * S))
    assert joins(s) == [] and "friend" not in s.present
    feed(s, room("room_join", START + 300 * S), room("room_heartbeat", START + 360 * S))
    assert joins(s) == [START + 350 * S] and "friend" in s.present


def test_a_counted_join_is_not_taken_back_by_a_late_leave():
    s = make(min_watch_seconds=60)
    feed(s, room("room_join", START + 10 * S), room("room_heartbeat", START + 70 * S))
    assert joins(s) == [START + 70 * S]
    feed(s, room("room_leave", START + 15 * S))  # the leave came late: the reward stays
    assert joins(s) == [START + 70 * S] and len(s.rewards) == 1


def test_presences_closed_without_a_leave_are_counted_by_cause():
    s = make()
    feed(s, room("room_join", START + S, "a"), room("room_timeout", START + 60 * S, "a"),
         room("room_join", START + S, "b"), room("room_end", START + 90 * S, "b"),
         room("room_join", START + S, "c"), room("room_leave", START + 30 * S, "c"),
         room("room_timeout", START + 40 * S, "c"),  # already closed: nothing to close
         room("room_join", START + S, "d"))
    totals = s.room_totals
    assert (totals.viewers, totals.timeouts, totals.ends) == (4, 1, 1)
    assert s.present == {"d"}
    assert totals.watched == (59 + 89 + 29) * S + 0


def test_heartbeats_do_not_pile_up():
    p = Presence()
    window = Window(START, END, 60 * S)
    p.add(0, START, window)
    for i in range(1, 101):
        p.add(1, START + i * 30 * S, window)
    assert len(p.marks) == 2 and p.watched == 100 * 30 * S


def test_a_join_already_counted_stays_counted_when_an_earlier_leave_arrives_late():
    # The beat at 75 s makes the minute from 10 s on: the join counts at 70 s. The leave stamped
    # 40 s, delivered after it, corrects the time watched but does not take the join back (SPEC 5:
    # a join that happened counts). A replay of such a log in a new process: tests/e2e/test_replay.py.
    state = make(60)
    feed(state, room("room_join", START + 10 * S), room("room_heartbeat", START + 75 * S))
    assert joins(state) == [START + 70 * S]
    feed(state, room("room_leave", START + 40 * S))
    assert joins(state) == [START + 70 * S]
    assert state.room_totals.watched == 30 * S and "friend" not in state.present


def test_heartbeats_before_a_rejoin_keep_the_time_watched_until_then():
    # join, two beats, a reconnect with no leave in between, one more beat: 50 s + 30 s watched
    state = make(min_watch_seconds=60)
    feed(state, room("room_join", START), room("room_heartbeat", START + 30 * S),
         room("room_heartbeat", START + 50 * S), room("room_join", START + 60 * S))
    assert joins(state) == []
    feed(state, room("room_heartbeat", START + 90 * S))
    assert joins(state) == [START + 70 * S]  # 50 s before the reconnect, 10 s after it


def test_a_presence_open_when_the_room_ends_is_credited_until_the_end_only():
    p = Presence()
    window = Window(START, END)
    p.add(0, START - 60 * S, window)  # joined before the start
    p.add(1, START + 100 * S, window)  # a heartbeat: counted up to here
    assert p.watched == 100 * S
    assert p.watched_until(END + 3600 * S, window) == END - START  # never past the window's end
    assert p.watched_until(START + 160 * S, window) == 160 * S
    p.add(2, START + 200 * S, window)  # left: nothing more to credit
    assert p.watched_until(END, window) == p.watched == 200 * S
