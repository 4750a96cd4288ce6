"""The ingestion pipeline's coordination with in-memory fakes: dedupe, rejection, one write per batch,
and committed effects handed to subscribers only after the write."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from liveloop.engine.model import Attributed, Event, RewardIssued
from liveloop.engine.state import CampaignState
from liveloop.events.committed import Committed, CommittedEffects
from liveloop.events.gate import LocalGate
from liveloop.events.ingest import Ingestor
from liveloop.kit.db.writer import WriterFailed
from liveloop.kit.times import iso as iso_ms
from liveloop.realtime.hub import Hub
from tests.fakes import FakeDatabase, FakeEventStore, FakeNames, FakeRates

NOW = 1_900_000_000_000  # 2030-03-17
T = "tenant-1"


def campaign(cid: str) -> dict:
    return {"id": cid, "title": "Live", "market": "ID", "starts_at": iso_ms(NOW + 3_600_000),
            "ends_at": iso_ms(NOW + 7_200_000), "landing_url": "https://shop.example.com/live",
            "rules": [{"id": "invite", "type": "reservation_referral",
                       "referrer_reward": {"kind": "coupon", "amount": "1000"}}]}


class Pipeline:
    def __init__(self, *cids: str, store: FakeEventStore | None = None) -> None:
        self.store = store if store is not None else FakeEventStore()
        for cid in cids:
            self.store.add_campaign(T, campaign(cid))
        self.committed: list[Committed] = []
        self.bus = bus = CommittedEffects()
        bus.subscribe("test", self.committed.append)
        self.db = db = FakeDatabase()
        self.gate = LocalGate(self.store, db)
        db.on_failure = self.gate.drop
        self.ingestor = Ingestor(self.gate, self.store, FakeRates(), bus, future_tolerance_ms=300_000)

    def ingest(self, events: list[dict]):
        return asyncio.run(self.ingestor.ingest(T, events, now=NOW))


def held_writes(p: Pipeline) -> asyncio.Event:
    """Every write of the pipeline from now on waits until the returned event is set (a slow commit)."""
    fast_write = p.db.write
    open_ = asyncio.Event()

    async def slow_write(fn, **kwargs):
        await open_.wait()
        return await fast_write(fn, **kwargs)

    p.db.write = slow_write
    return open_


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


def test_a_batch_that_fails_half_applied_is_stored_when_sent_again_not_taken_for_duplicates(monkeypatch):
    # Something raises after the batch's first event was applied and before its write was queued (a bug):
    # acknowledged as a duplicate when resent, that event would never reach the log.
    p = Pipeline("c1")
    p.ingest([reservation("before", "c1", "w")])
    apply = CampaignState.apply

    def failing(self, ev, now):
        if ev.id == "boom":
            raise RuntimeError("a bug")
        return apply(self, ev, now)

    monkeypatch.setattr(CampaignState, "apply", failing)
    with pytest.raises(RuntimeError):
        p.ingest([reservation("e1", "c1", "x"), reservation("boom", "c1", "y")])
    assert p.gate.peek(T, "c1") is None  # the state holding e1, never stored, is dropped
    monkeypatch.setattr(CampaignState, "apply", apply)
    result = p.ingest([reservation("e1", "c1", "x"), reservation("boom", "c1", "y")])
    assert (result.accepted, result.duplicates) == (2, 0)
    assert [row.id for row in p.store.log] == ["before", "e1", "boom"]
    assert set(p.gate.peek(T, "c1").state.participants) == {"w", "x", "y"}


def test_a_state_dropped_while_a_write_computed_from_it_is_on_its_way_is_reloaded_after_that_write():
    # An erasure drops the campaigns it touched once its own write commits; a batch applied to the old state
    # meanwhile may still be queued behind it. Reloaded before that batch commits, the new state would
    # never see its events (on SQLite nothing catches up), and a restart would give another state.
    p = Pipeline("c1")

    async def run():
        await p.gate.get(T, "c1")
        open_ = held_writes(p)
        batch = asyncio.ensure_future(p.ingestor.ingest(T, [reservation("b", "c1", "x")], now=NOW))
        await asyncio.sleep(0.01)  # applied; its write waits
        p.gate.drop([(T, "c1")])
        reload = asyncio.ensure_future(p.gate.get(T, "c1"))
        await asyncio.sleep(0.01)
        assert not reload.done()  # it waits for the write on its way
        open_.set()
        assert (await batch).accepted == 1
        return await reload

    live = asyncio.run(run())
    assert "x" in live.state.participants


def test_a_state_dropped_while_it_is_being_loaded_is_loaded_again():
    # An erasure drops the campaigns it touched when its write commits: a load that read the log before that
    # and ends after it would keep the state from before the erasure.
    p = Pipeline("c1")
    load = p.store.load
    reads = []

    async def run():
        release = asyncio.Event()

        async def slow_load(tenant_id, campaign_id):
            loaded = await load(tenant_id, campaign_id)  # read now
            reads.append(campaign_id)
            if len(reads) == 1:
                await release.wait()  # ... and kept only after the drop
            return loaded

        p.store.load = slow_load
        first, second = (asyncio.ensure_future(p.gate.get(T, "c1")) for _ in range(2))
        await asyncio.sleep(0.01)
        p.gate.drop([(T, "c1")])
        release.set()
        return await first, await second

    first, second = asyncio.run(run())
    assert reads == ["c1", "c1"]  # read again after the drop
    assert first is second is p.gate.peek(T, "c1")


def test_a_rewards_ledger_rows_go_in_the_write_of_its_event_and_a_failed_write_keeps_none():
    p = Pipeline("c1")
    p.store.invites.add(T, "c1", "code-siti", "siti")
    p.store.fail_next_write = OSError("disk gone")
    with pytest.raises(WriterFailed):
        p.ingest([reservation("e1", "c1", "budi", ref="code-siti")])
    assert p.store.ledger.granted() == [] and p.store.log == []
    p.ingest([reservation("e1", "c1", "budi", ref="code-siti")])
    p.ingest([reservation("e1", "c1", "budi", ref="code-siti")])  # the resend grants nothing again
    assert p.store.ledger.granted() == [("invite", "siti", "referrer")]


def test_a_resend_reaching_a_process_that_never_saw_it_is_a_duplicate_found_in_the_log():
    p = Pipeline("c1")
    p.store.invites.add(T, "c1", "code-siti", "siti")
    p.ingest([reservation("e1", "c1", "budi", ref="code-siti")])
    other = Pipeline(store=p.store)  # the same log, a new process: its recent ids and states start empty
    result = other.ingest([reservation("e1", "c1", "budi", ref="code-siti"), reservation("e2", "c1", "ani")])
    assert (result.accepted, result.duplicates) == (1, 1)
    assert [row.id for row in p.store.log] == ["e1", "e2"]
    assert p.store.ledger.granted() == [("invite", "siti", "referrer")]


def test_subscribers_hear_of_a_batch_only_once_its_events_and_rewards_are_written():
    p = Pipeline("c1")
    p.store.invites.add(T, "c1", "code-siti", "siti")
    seen = []
    p.bus.subscribe(
        "probe", lambda c: seen.append(([row.id for row in p.store.log], p.store.ledger.granted())))
    p.ingest([reservation("e1", "c1", "budi", ref="code-siti")])
    assert seen == [(["e1"], [("invite", "siti", "referrer")])]


def test_the_viewer_hub_names_the_friend_after_the_commit_with_one_lookup_per_batch():
    p = Pipeline("c1")
    p.store.invites.add(T, "c1", "code-siti", "siti")
    names = FakeNames()
    names.add(T, "budi", "Budi S.", locale="id-ID")
    names.add(T, "ani", "Ani")
    hub = Hub(names=names)
    p.bus.subscribe("viewer streams", hub.on_committed)

    async def run():
        sub, _replay = hub.subscribe((T, "c1", "siti"))
        await p.ingestor.ingest(T, [reservation("e1", "c1", "budi", ref="code-siti"),
                                    reservation("e2", "c1", "ani", ref="code-siti")], now=NOW)
        async with asyncio.timeout(5):
            while len(sub.frames) < 2:
                await sub.wait(1.0)
        return [orjson.loads(frame.split(b"data: ", 1)[1]) for frame in sub.frames]

    messages = asyncio.run(run())
    friends = [m["friend"]["display_name"] for m in messages if m["type"].startswith("friend_")]
    assert friends == ["Budi S.", "Ani"]
    assert names.asked == [["ani", "budi", "siti"]]


class GatedNames(FakeNames):
    """Names whose first lookup waits until the test opens the gate (a slow read under a burst)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def names_and_locales(self, tenant_id: str, user_ids: list[str]) -> dict:
        if not self.asked:
            self.asked.append(list(user_ids))
            await self.gate.wait()
            self.asked.pop()
        return await super().names_and_locales(tenant_id, user_ids)


def test_batches_committed_during_a_name_lookup_share_the_next_one_and_keep_their_order():
    p = Pipeline("c1")
    p.store.invites.add(T, "c1", "code-siti", "siti")
    names = GatedNames()
    for user, name in (("budi", "Budi"), ("ani", "Ani"), ("citra", "Citra")):
        names.add(T, user, name)
    hub = Hub(names=names)
    p.bus.subscribe("viewer streams", hub.on_committed)

    async def run():
        sub, _replay = hub.subscribe((T, "c1", "siti"))
        for n, friend in enumerate(("budi", "ani", "citra")):
            await p.ingestor.ingest(T, [reservation(f"e{n}", "c1", friend, ref="code-siti")], now=NOW)
            await asyncio.sleep(0)
        names.gate.set()
        async with asyncio.timeout(5):
            while sum(b'"friend_reserved"' in frame for frame in sub.frames) < 3:
                await sub.wait(1.0)
        return [orjson.loads(frame.split(b"data: ", 1)[1]) for frame in sub.frames]

    messages = asyncio.run(run())
    friends = [m["friend"]["display_name"] for m in messages if m["type"].startswith("friend_")]
    assert friends == ["Budi", "Ani", "Citra"]
    assert names.asked == [["budi", "siti"], ["ani", "citra", "siti"]]


def test_clicks_that_arrive_while_a_click_write_is_in_flight_go_together_in_the_next_write():
    """A slow commit (a shared database under load) makes bigger click writes, not a growing queue
    of one-click writes that a shutdown would have to wait for."""
    p = Pipeline("c1")
    p.store.invites.add(T, "c1", "code-siti", "siti")
    writes: list[int] = []
    original = p.store.write

    def counting(conn, batch):
        writes.append(len(batch.events))
        original(conn, batch)

    p.store.write = counting

    async def run():
        live = await p.gate.get(T, "c1")  # loaded first: a load waits for the writes queued before it
        open_ = held_writes(p)
        for i in range(6):
            p.ingestor.record_click(T, live, Event(f"k{i}", "click", None, NOW, "code-siti"), ip=None, now=NOW)
            await asyncio.sleep(0)  # each click in a loop turn of its own, as requests come
        open_.set()
        await p.ingestor.drain()

    asyncio.run(run())
    assert writes == [1, 5]
    assert [row.id for row in p.store.log] == [f"k{i}" for i in range(6)]
