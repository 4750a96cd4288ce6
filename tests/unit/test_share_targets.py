"""The share link's code lookup: cached once found, never cached while unknown, a clip's landing kept."""

from __future__ import annotations

import asyncio

from liveloop.sharelink.targets import ShareTarget, ShareTargets
from tests.fakes import FakeInvites


def test_a_known_code_is_looked_up_once_then_served_from_memory():
    invites = FakeInvites()
    invites.add("t1", "c1", "siti-code", "siti")
    targets = ShareTargets(invites)
    first = asyncio.run(targets.get("siti-code"))
    again = asyncio.run(targets.get("siti-code"))
    assert first == again == ShareTarget("siti-code", "t1", "c1", "siti", None)
    assert invites.lookups == 1


def test_an_unknown_code_is_asked_again_so_a_code_created_a_moment_later_works():
    invites = FakeInvites()
    targets = ShareTargets(invites)
    assert asyncio.run(targets.get("later")) is None
    invites.add("t1", "c1", "later", "budi")
    assert asyncio.run(targets.get("later")) == ShareTarget("later", "t1", "c1", "budi", None)
    assert invites.lookups == 2


def test_a_clips_code_lands_on_the_clip():
    invites = FakeInvites()
    invites.add("t1", "c1", "clip-code", "siti", landing="https://shop.example.com/clips/7")
    target = asyncio.run(ShareTargets(invites).get("clip-code"))
    assert (target.campaign_id, target.owner, target.landing) == ("c1", "siti", "https://shop.example.com/clips/7")
