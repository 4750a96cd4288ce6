"""The room view's K-factor over time: referred viewers per invite holder at the end of each period."""

from liveloop.console.queries import k_series


def test_each_point_counts_what_arrived_before_its_period_ends():
    # Holders at 0 and 250; referred viewers at 100, 120 and 260; periods of 100 from 0.
    points = k_series([100, 120, 260], [0, 250], since=0, step=100, points=4)
    assert points == [0.0, 2.0, 1.5, 1.5]


def test_no_point_while_nobody_holds_a_link():
    assert k_series([], [150], since=0, step=100, points=2) == [None, 0.0]
