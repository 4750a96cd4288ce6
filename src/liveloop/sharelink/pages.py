"""The HTML a share link answers with when it does not redirect: link previews and unknown codes.

Every text comes from the gettext catalogues of liveloop.i18n, in the viewer's language
(Accept-Language), falling back to English, never to a key; Arabic pages are right to left.
"""

from __future__ import annotations

import functools
import html
import re

from liveloop import i18n
from liveloop.i18n import format as fmt
from liveloop.kit.times import parse_iso

# Fetchers that draw a link's card, or fetch it for a search engine, and are not a person. Each app's
# crawler is matched by a token its own in-app browser never sends: people tapping a link in LINE,
# Facebook, Instagram, Messenger, Telegram, TikTok, Zalo, KakaoTalk, WeChat, Snapchat or Viber must be
# redirected and counted (tests/e2e/test_share_agents.py holds real strings of both kinds).
_CRAWLERS = re.compile(
    r"^whatsapp/"  # WhatsApp's card fetcher ("WhatsApp/2.23.20.0 A"); links open in the phone's browser
    r"|facebookexternalhit|facebot|meta-external"  # Meta's, also used by Instagram, LINE (line-poker), KakaoTalk
    r"|line-poker|linespider"  # LINE's in-app browser says "Line/13.20.0"
    r"|kakaotalk-scrap"  # KakaoTalk's browser says "KAKAOTALK 10.4.3"
    r"|\bzalo/\d"  # Zalo's fetcher ("Zalo/205.0"); its browser says "Zalo android/..." or "Zalo iOS/..."
    r"|tiktokspider|bytespider"  # TikTok's browser says "trill_..." or "musical_ly_..."
    r"|snap url preview|snapchatads"  # Snapchat's browser says "Snapchat/12.x"
    r"|viberurldownloader"  # Viber's browser says "Viber/11.x"
    r"|pinterestbot|^pinterest/0\."  # Pinterest's app says "Pinterest for iOS/..."
    # An iOS or Android app fetching a link natively (WeChat's, Zalo's and Telegram's cards among them)
    # sends its HTTP library's name; a browser, in-app or not, sends "Mozilla/5.0 (...)" instead.
    r"|\bcfnetwork/|^dalvik/"
    r"|twitterbot|telegrambot|slackbot|slack-imgproxy|discordbot|linkedinbot|skypeuripreview|vkshare|redditbot"
    r"|embedly|iframely|mastodon|bluesky cardyb|googlebot|bingbot|applebot|yandex\w*bot",
    re.IGNORECASE,
)


def is_link_preview(user_agent: str) -> bool:
    """Link-preview crawlers fetch the page to draw a card; they are not people clicking."""
    return bool(user_agent) and _is_crawler(user_agent)


# Searching a browser's User-Agent for every crawler token costs 35 to 60 µs (more than the rest of a
# click), and the viewers of a live send a few thousand distinct ones (a browser or an app's version
# on a phone's): each is searched once, then answered from memory. A flood of made-up agents costs
# the search each, as without the cache, and cannot grow it.
@functools.lru_cache(maxsize=4096)
def _is_crawler(user_agent: str) -> bool:
    return _CRAWLERS.search(user_agent) is not None


def _page(choice: i18n.Choice, title: str, body: str, head: str = "", extra: str = "") -> bytes:
    direction = "rtl" if choice.rtl else "ltr"
    return (
        f'<!doctype html><html lang="{choice.lang}" dir="{direction}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
        f"{head}<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;"
        f"line-height:1.5}}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>"
        f"{extra}</body></html>"
    ).encode()


def not_found_page(accept_language: str) -> bytes:
    choice = i18n.negotiate(accept_language)
    t = i18n.translate
    return _page(choice, t(choice.lang, "share.not_found.title"), t(choice.lang, "share.not_found.body"))


def preview_page(campaign: dict, url: str, landing: str, accept_language: str) -> bytes:
    """An Open Graph card: the campaign's title and start, in the viewer's language and the market's time.

    It links on to `landing` (the landing URL with `ll_ref`): a person whose app was taken for a
    crawler is never stranded, and the shop still learns whose link brought them.
    """
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
    link = f'<p><a href="{esc(landing)}">{esc(i18n.translate(tag, "share.preview.open"))}</a></p>'
    return _page(choice, title, description, head, link)
