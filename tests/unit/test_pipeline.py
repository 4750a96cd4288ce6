"""The ingestion pipeline's coordination with in-memory fakes: dedupe, rejection, one write per batch,
and committed effects handed to subscribers only after the write."""

from __future__ import annotations

import asyncio

import pytest

from liveloop.engine.model import Attributed, RewardIssued
from liveloop.events.committed import Committed, CommittedEffects
from liveloop.events.gate import LocalGate
from liveloop.events.ingest import Ingestor
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.times import iso as iso_ms
from tests.fakes import FakeDatabase, FakeEventStore, FakeRates

NOW = 1_900_000_000_000  # 2030-03-17
T = "tenant-1"


def campaign(cid: str) -> dict:
    return {"id": cid, "title": "Live", "market": "ID", "starts_at": iso_ms(NOW + 3_600_000),
            "ends_at": iso_ms(NOW + 7_200_000), "landing_url": "https://shop.example.com/live",
            "rules": [{"id": "invite", "type": "reservation_referral",
                       "referrer_reward": {"kind": "coupon", "amount": "1000"}}]}


class Pipeline:
    def __init__(self, *cids: str) -> None:
        self.store = FakeEventStore()
        for cid in cids:
            self.store.add_campaign(T, campaign(cid))
        self.committed: list[Committed] = []
        bus = CommittedEffects()
        bus.subscribe("test", self.committed.append)
        db = FakeDatabase()
        self.gate = LocalGate(self.store, db)
        db.on_failure = self.gate.drop
        self.ingestor = Ingestor(self.gate, self.store, FakeRates(), bus, future_tolerance_ms=300_000)

    def ingest(self, events: list[dict]):
        return asyncio.run(self.ingestor.ingest(T, events, now=NOW))


def reservation(eid: str, cid: str, user: str, ref: str | None = None) -> dict:
    ev = {"id": eid, "type": "reservation", "campaign_id": cid, "user_id": user, "at": iso_ms(NOW - 60_000)}
    if ref:
        ev["ref"] = ref
    return ev


def test_a_referral_is_logged_once_and_its_effects_reach_subscribers_after_the_write():
    p = Pipeline("c1")
    p.store.invites.add(T, "c1", "code-siti", "siti")
    first = p.ingest([reservation("e1", "c1", "budi", ref="code-siti"), reservation("e1", "c1", "budi")])
    assert (first.accepted, first.duplicates, first.rejected) == (1, 1, [])
    again = p.ingest([reservation("e1", "c1", "budi", ref="code-siti")])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert [row.id for row in p.store.log] == ["e1"]
    [committed] = p.committed
    kinds = [type(effect) for _live, effect in committed.effects]
    assert Attributed in kinds and RewardIssued in kinds
    assert [user for _rule, user, _role in p.store.ledger.granted()] == ["siti"]  # the ledger row went with the event


def test_an_unknown_campaign_rejects_its_events_alone_with_their_index():
    p = Pipeline("c1")
    result = p.ingest([reservation("a", "nope", "x"), reservation("b", "c1", "y"), reservation("c", "nope", "z")])
    assert result.accepted == 1
    assert [(r["index"], r["error"]["field"]) for r in result.rejected] == [(0, "campaign_id"), (2, "campaign_id")]
    assert [row.id for row in p.store.log] == ["b"]


def test_a_batch_over_two_campaigns_is_one_write():
    p = Pipeline("c1", "c2")
    writes = []
    original = p.store.write

    def counting(conn, batch):
        writes.append([row.id for row in batch.events])
        original(conn, batch)

    p.store.write = counting
    p.ingest([reservation("a", "c1", "x"), reservation("b", "c2", "y"), reservation("c", "c1", "z")])
    assert writes == [["a", "b", "c"]]


def test_a_failed_write_publishes_nothing_drops_only_its_campaigns_and_the_resent_batch_is_stored():
    p = Pipeline("c1", "c2")
    p.ingest([reservation("other", "c2", "y")])
    other = p.gate.peek(T, "c2")
    p.store.fail_next_write = OSError("disk gone")
    with pytest.raises(WriterFailed):
        p.ingest([reservation("a", "c1", "x")])
    assert len(p.committed) == 1 and [row.id for row in p.store.log] == ["other"]
    # the state that applied the lost event is dropped; the other campaign's is kept
    assert p.gate.peek(T, "c1") is None and p.gate.peek(T, "c2") is other
    result = p.ingest([reservation("a", "c1", "x")])
    assert (result.accepted, result.duplicates) == (1, 0)
    assert [row.id for row in p.store.log] == ["other", "a"]
    assert len(p.committed) == 2
