"""Which apps a viewer's share sheet offers, in the order people of a market reach for them (SPEC 15):
LINE first in Thailand, WhatsApp first elsewhere in South-East Asia and in the Middle East and North
Africa. The widget shows these where the browser has no Web Share sheet of its own."""

from __future__ import annotations

from liveloop.markets.catalogue import get_market

APPS = ("whatsapp", "line", "telegram", "facebook", "x", "copy")

_BY_MARKET = {"TH": ("line", "facebook", "whatsapp", "telegram", "x", "copy")}
_BY_REGION = {
    "SEA": ("whatsapp", "facebook", "telegram", "line", "x", "copy"),
    "MENA": ("whatsapp", "telegram", "facebook", "x", "line", "copy"),
    "NA": ("facebook", "x", "whatsapp", "telegram", "line", "copy"),
}
_ELSEWHERE = ("whatsapp", "facebook", "x", "telegram", "line", "copy")


def share_apps(market: str) -> tuple[str, ...]:
    """The share sheet's apps for a market, most used first; `copy` (copy the link) last."""
    if market in _BY_MARKET:
        return _BY_MARKET[market]
    return _BY_REGION.get(get_market(market).region, _ELSEWHERE)
