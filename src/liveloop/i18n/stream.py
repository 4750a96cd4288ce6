"""The `text` of a viewer's stream messages: what happened, in the viewer's language, formatted by Babel.

A viewer reads their own `locale` (users table) when it is set, else the default locale of the
campaign's market; dates are shown in the campaign's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from liveloop.i18n import DEFAULT, catalogue, translate
from liveloop.i18n import format as fmt
from liveloop.kit.errors import NotFound
from liveloop.markets.catalogue import get_market

_FRIEND = frozenset({"friend_clicked", "friend_reserved", "friend_joined"})


def viewer_locale(user_locale: str | None, market: str) -> str:
    """The locale tag a viewer reads: their own when set, else the campaign market's default."""
    if user_locale:
        return user_locale
    try:
        return get_market(market).default_locale
    except NotFound:
        return DEFAULT


def stream_text(payload: Mapping[str, Any], tag: str, tz: str) -> str | None:
    """The text of a stream message for a viewer reading `tag`, or None for a message that shows none."""
    kind = payload.get("type")
    if kind in _FRIEND:
        friend = payload.get("friend") or {}
        name = friend.get("display_name") or translate(tag, "stream.friend_unknown")
        return translate(tag, f"stream.{kind}", name=name)
    if kind == "rank":
        rank = payload.get("rank")
        return translate(tag, "stream.rank", rank=rank) if rank else None
    if kind == "reward":
        return _reward(payload["reward"], tag, tz)
    if kind in ("draw_entered", "draw_won") and payload.get("prize"):
        return translate(tag, f"stream.{kind}", prize=fmt.reward(payload["prize"], tag))
    return None


def _reward(reward: Mapping[str, Any], tag: str, tz: str) -> str | None:
    status = reward.get("status")
    if status == "available" or (status == "pending" and not reward.get("available_at")):
        return translate(tag, "stream.reward", reward=fmt.reward(reward, tag))
    if status == "pending":
        date = fmt.day(datetime.fromisoformat(reward["available_at"]), tz, tag)
        return translate(tag, "stream.reward_pending", reward=fmt.reward(reward, tag), date=date)
    reason = f"reason.{reward.get('reason')}"
    if status == "declined" and reason in catalogue(DEFAULT).messages:
        return translate(tag, "stream.reward_declined", reward=fmt.reward(reward, tag),
                         reason=translate(tag, reason))
    return None  # a reward taken back (void) or used is news for the shop, not a notice for the viewer
