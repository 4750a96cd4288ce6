"""What a process remembers of flash-deal notices told (flash/notices.py) stays bounded: least recently
told campaigns are forgotten past MAX_REMEMBERED pairs, and a campaign found over is forgotten at once.
Forgetting only costs an insert that finds its row; remembering spares the write for a reopened stream."""

from __future__ import annotations

from types import SimpleNamespace

from liveloop.flash import notices
from liveloop.flash.notices import FlashNotices
from liveloop.kit import clock

NOW = 1_800_000_000_000


class Campaigns:
    def __init__(self) -> None:
        self.lives: dict[tuple[str, str], SimpleNamespace] = {}

    def add(self, campaign_id: str, *, ends_at: int, sent: dict) -> None:
        config = SimpleNamespace(cancelled=False, ends_at=ends_at)
        self.lives[("tn", campaign_id)] = SimpleNamespace(state=SimpleNamespace(
            config=config, social=SimpleNamespace(flash_sent=sent)))

    def peek(self, tenant_id: str, campaign_id: str):
        return self.lives.get((tenant_id, campaign_id))


def make(campaigns: Campaigns | None = None) -> tuple[FlashNotices, list]:
    """The notices, with the telling itself recorded instead of run: [(deal, phase, users)]."""
    flash = FlashNotices(None, None, campaigns or Campaigns(), lambda _key, _message: None,  # type: ignore[arg-type]
                         lambda _t, _c: [])
    told: list = []
    flash._tell = lambda _t, _c, deal, phase, users: (deal, phase, users)  # type: ignore[method-assign]
    flash._spawn = told.append  # type: ignore[method-assign]
    return flash, told


def users(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def test_past_the_bound_the_least_recently_told_campaigns_are_forgotten(monkeypatch):
    monkeypatch.setattr(notices, "MAX_REMEMBERED", 10)
    flash, _ = make()
    flash._remember("tn", "a", "d1", users("a", 4))
    flash._remember("tn", "b", "d1", users("b", 4))
    flash._remember("tn", "a", "d2", users("a", 2))  # a is now the most recently told
    assert flash._remembered == 10 and list(flash._told) == [("tn", "b"), ("tn", "a")]
    flash._remember("tn", "c", "d1", users("c", 3))
    assert list(flash._told) == [("tn", "a"), ("tn", "c")] and flash._remembered == 9
    flash._remember("tn", "c", "d1", users("c", 3))  # told again: nothing new to count
    assert flash._remembered == 9
    # One campaign larger than the bound is kept whole: it is the one being told.
    flash._remember("tn", "big", "d1", users("v", 25))
    assert list(flash._told) == [("tn", "big")] and flash._remembered == 25


def test_a_viewer_remembered_is_not_told_again_and_an_ended_campaign_is_forgotten(monkeypatch):
    monkeypatch.setattr(clock, "now_ms", lambda: NOW)
    campaigns = Campaigns()
    campaigns.add("live", ends_at=NOW + 60_000, sent={("d1", "start"): set()})
    flash, spawned = make(campaigns)
    flash._remember("tn", "live", "d1", ["told"])
    flash.opened(("tn", "live", "told"))
    flash.opened(("tn", "live", "new"))
    assert spawned == [("d1", "start", ["new"])]
    campaigns.lives[("tn", "live")].state.config.ends_at = NOW  # the live is over
    flash.opened(("tn", "live", "told"))
    assert spawned == [("d1", "start", ["new"])] and flash._told == {} and flash._remembered == 0
