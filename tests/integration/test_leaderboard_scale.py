"""The incremental leaderboard at scale: the same top N and ranks as a full sort, in the SPEC's tie order.

Not a unit test: 200,000 users and 50,000 updates take seconds, not milliseconds. It needs no
service, so it runs in every `make test`.
"""

from __future__ import annotations

import random

from liveloop.engine.leaderboard import Leaderboard

USERS = 200_000


def test_top_and_ranks_equal_a_full_sort_for_200k_users_after_many_updates():
    rng = random.Random(3)
    board = Leaderboard()
    truth: dict[str, tuple[int, int]] = {}  # user -> (score, reached_at)
    # Few distinct scores and times, so that ties on score and on time are everywhere.
    for i in range(USERS):
        user = f"u{rng.randrange(10**9):09d}-{i}"
        score, reached = rng.randint(0, 40), rng.randint(0, 500)
        board.update(user, score, reached)
        truth[user] = (score, reached)
    users = list(truth)
    for _ in range(50_000):  # raises, drops (refunds) and falls to zero, as events arrive
        user = rng.choice(users)
        score = max(0, truth[user][0] + rng.choice((-2, -1, 1, 1, 2, 3)))
        reached = rng.randint(0, 600)
        board.update(user, score, reached)
        truth[user] = (score, reached)

    # SPEC section 3: highest score first, then who reached it first, then user_id; score 0 unlisted.
    expected = sorted(((-s, t, u) for u, (s, t) in truth.items() if s > 0))
    assert len(board) == len(expected)
    assert board.top(50) == [(i + 1, u, -s) for i, (s, _t, u) in enumerate(expected[:50])]
    assert board.top(1000)[-1] == (1000, expected[999][2], -expected[999][0])
    position = {u: i + 1 for i, (_s, _t, u) in enumerate(expected)}
    for user in rng.sample(users, 2000):
        assert board.rank(user) == position.get(user)
        assert board.score(user) == truth[user][0]
