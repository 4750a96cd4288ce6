"""`make soak` on a small scale: a few seconds of load with a kill -9 half way, then the checks the
long run makes (every acknowledged event logged, the ledger equal to an uninterrupted run's)."""

from __future__ import annotations

from bench.soak import SoakPlan, run_soak, summary, table


def test_a_short_soak_with_a_kill_keeps_every_acknowledged_event_and_the_ledger(tmp_path):
    plan = SoakPlan(seconds=8, rate=1500, viewers=5, share_rate=10, interval=2, population=2000, referrers=50)
    result = run_soak(plan, tmp_path, progress=lambda _item: None)
    assert result.acked > 0
    assert result.logged == result.acked
    assert result.ledger_rows > 0 and result.ledger_equal
    assert result.outage_seconds is not None  # a batch sent after the kill was answered
    assert any(row.note for row in result.rows)  # the kill landed inside the run
    assert len(table(result)) == len(result.rows) + 2 and len(summary(result)) == 5
