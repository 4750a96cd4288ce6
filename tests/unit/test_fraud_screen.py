"""The fraud screen's bookkeeping with several processes (fraud/screen.py), without a database: what
it notes of its own events instead of reading them back, the spans of the log it leaves out of its
catch-up, and a tenant's state loaded once. The same through real processes:
tests/e2e/test_fraud_processes.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from liveloop.engine.model import Event
from liveloop.fraud import screen
from liveloop.fraud.screen import FraudChecks, OwnSpans, _FirstTouch
from liveloop.fraud.signals import TenantSignals


def test_a_referral_another_process_logged_first_is_learnt_after_this_ones_own_event():
    """This process's own events are not read back, so it notes their (campaign, user) pairs itself;
    another process's event logged before them in the campaign is still that user's first (a referral)."""
    seen = _FirstTouch({"code-alice": "alice"})
    seen.own("one", "bob", 10)  # bob's event here was logged after position 10
    signals = TenantSignals()
    # Another process logged bob's reservation through alice's code at 7: his first in "one".
    assert seen.scan(signals, [(7, "one", "reservation", "bob", "code-alice", None, None, 0)]) == [("bob", "alice")]
    assert "alice" in signals.referrers_of["bob"]
    # At 12 it would have come after this process's event: not a first touch, no referral.
    later = _FirstTouch({"code-alice": "alice"})
    later.own("one", "carol", 10)
    assert later.scan(TenantSignals(), [(12, "one", "reservation", "carol", "code-alice", None, None, 0)]) == []
    # Once read, a pair's later events are not first touches either.
    assert seen.scan(signals, [(8, "one", "order_paid", "bob", "code-alice", None, None, 0)]) == []


def test_own_spans_merge_and_leave_out_the_widest():
    own = OwnSpans()
    own.add("one", 10, 20)
    own.add("one", 20, 35)  # the next batch on the same campaign: one span
    own.add("one", 20, 38)  # one applied before the one before it was committed (a tenure): its head was 20
    own.add("two", 40, 41)
    own.add("two", 41, 41)  # nothing logged
    assert sorted(own.past(0)) == [("one", 10, 38), ("two", 40, 41)]
    assert own.past(38) == [("two", 40, 41)]
    own.forget_to(38)
    assert own.past(0) == [("two", 40, 41)]
    many = OwnSpans()
    for i in range(OwnSpans.MAX_SKIPPED + 5):
        many.add(f"c{i}", i * 100, i * 100 + i + 1)  # widths 1, 2, ...
    kept = many.past(0)
    assert len(kept) == OwnSpans.MAX_SKIPPED and min(up_to - after for _c, after, up_to in kept) == 6


class _SlowDatabase:
    """A database whose reads take a moment, counted."""

    dialect = "sqlite"

    def __init__(self) -> None:
        self.reads = 0

    async def read(self, fn):
        self.reads += 1
        await asyncio.sleep(0.05)
        return fn(None)


def test_a_tenant_asked_for_by_two_batches_at_once_is_loaded_once(monkeypatch):
    """Two loads finishing one after the other would leave the second copy without what batches
    checked against the first (own events are not read back): the second batch waits for the first load."""
    monkeypatch.setattr(screen, "_load", lambda conn, tenant_id, shared: TenantSignals())
    db = _SlowDatabase()
    checks = FraudChecks(db, outbox=None, shared=True)

    async def both():
        await asyncio.gather(checks.prepare("t1", [], {}, now=1_000), checks.prepare("t1", [], {}, now=1_000))

    asyncio.run(both())
    assert db.reads == 1 and checks.signals_of("t1") is not None


def test_own_events_are_noted_once_their_write_is_committed(monkeypatch):
    """`check` notes nothing of a batch's first touches; `logged` (after the commit) does: a failed write
    leaves no mark that would hide another process's first event of the user."""
    loaded = TenantSignals()
    loaded.first_touch = _FirstTouch({})
    monkeypatch.setattr(screen, "_load", lambda conn, tenant_id, shared: loaded)
    checks = FraudChecks(_SlowDatabase(), outbox=None, shared=True)
    asyncio.run(checks.prepare("t1", [], {}, now=1_000))
    state = SimpleNamespace(config=SimpleNamespace(id="one"), codes={}, participants=set(), last_seq=10)
    checks.check("t1", state, "phone", None, Event("e1", "reservation", "bob", 5))
    assert loaded.first_touch.seen == {}  # not committed yet
    rows = [SimpleNamespace(campaign_id="one", user_id="bob", type="reservation"),
            SimpleNamespace(campaign_id="one", user_id=None, type="click")]
    checks.logged("t1", [("one", 10, 12)], rows)
    assert loaded.first_touch.seen == {("one", "bob"): 10}
    assert loaded.first_touch.own_spans.past(0) == [("one", 10, 12)]  # left out of the next catch-up
