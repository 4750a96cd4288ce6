"""The HTML a share link answers with when it does not redirect: link previews and unknown codes.

Every text comes from the gettext catalogues of liveloop.i18n, in the viewer's language
(Accept-Language), falling back to English, never to a key; Arabic pages are right to left.
"""

from __future__ import annotations

import html
import re

from liveloop import i18n
from liveloop.i18n import format as fmt
from liveloop.kit.times import parse_iso

_CRAWLERS = re.compile(
    r"facebookexternalhit|facebot|whatsapp|twitterbot|telegrambot|\bline/|linespider|slackbot|slack-imgproxy|"
    r"discordbot|linkedinbot|pinterest|skypeuripreview|vkshare|googlebot|bingbot|applebot|redditbot|embedly|"
    r"iframely|zalo|kakaotalk-scrap|viber|snapchat|mastodon|bluesky|yandex",
    re.IGNORECASE,
)


def is_link_preview(user_agent: str) -> bool:
    """Link-preview crawlers fetch the page to draw a card; they are not people clicking."""
    return bool(user_agent) and _CRAWLERS.search(user_agent) is not None


def _page(choice: i18n.Choice, title: str, body: str, head: str = "") -> bytes:
    direction = "rtl" if choice.rtl else "ltr"
    return (
        f'<!doctype html><html lang="{choice.lang}" dir="{direction}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
        f"{head}<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;"
        f"line-height:1.5}}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>"
        f"</body></html>"
    ).encode()


def not_found_page(accept_language: str) -> bytes:
    choice = i18n.negotiate(accept_language)
    t = i18n.translate
    return _page(choice, t(choice.lang, "share.not_found.title"), t(choice.lang, "share.not_found.body"))


def preview_page(campaign: dict, url: str, accept_language: str) -> bytes:
    """An Open Graph card: the campaign's title and start, in the viewer's language and the market's time."""
    choice = i18n.negotiate(accept_language)
    tag = str(choice.locale)
    starts = parse_iso(campaign["starts_at"], field="starts_at")
    when = fmt.instant(starts, campaign["timezone"], choice.locale)
    title = campaign["title"]
    description = i18n.translate(tag, "share.preview.live_on", when=when) + " · " + i18n.translate(
        tag, "share.preview.invited")
    esc = html.escape
    head = (
        f'<meta property="og:type" content="website"><meta property="og:title" content="{esc(title)}">'
        f'<meta property="og:description" content="{esc(description)}"><meta property="og:url" content="{esc(url)}">'
        f'<meta property="og:locale" content="{esc(tag)}">'
        f'<meta name="twitter:card" content="summary"><meta name="twitter:title" content="{esc(title)}">'
        f'<meta name="twitter:description" content="{esc(description)}">'
    )
    return _page(choice, title, description, head)
