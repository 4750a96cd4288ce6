"""The HTML a share link answers with when it does not redirect: link previews and unknown codes.

Texts are in the viewer's language (Accept-Language), falling back to English, never to a key.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_datetime

from liveloop.kit.times import parse_iso

LANGS = ("en", "id", "th", "vi", "ms", "fil", "ar", "de", "fr", "es", "zh")
RTL = frozenset({"ar"})

_TEXTS: dict[str, dict[str, str]] = {
    "not_found_title": {
        "en": "This invite link does not exist",
        "id": "Tautan undangan ini tidak ada",
        "th": "ไม่พบลิงก์คำเชิญนี้",
        "vi": "Liên kết mời này không tồn tại",
        "ms": "Pautan jemputan ini tidak wujud",
        "fil": "Hindi umiiral ang invite link na ito",
        "ar": "رابط الدعوة هذا غير موجود",
        "de": "Diesen Einladungslink gibt es nicht",
        "fr": "Ce lien d'invitation n'existe pas",
        "es": "Este enlace de invitación no existe",
        "zh": "此邀请链接不存在",
    },
    "not_found_body": {
        "en": "Check the link with the friend who sent it, or look for the live on the shop's page.",
        "id": "Periksa tautan dengan teman yang mengirimnya, atau cari siaran langsung di halaman toko.",
        "th": "ตรวจสอบลิงก์กับเพื่อนที่ส่งมา หรือค้นหาไลฟ์ในหน้าร้านค้า",
        "vi": "Hãy kiểm tra lại liên kết với người bạn đã gửi, hoặc tìm buổi live trên trang của cửa hàng.",
        "ms": "Semak pautan dengan rakan yang menghantarnya, atau cari siaran langsung di halaman kedai.",
        "fil": "Tingnan ang link kasama ang kaibigang nagpadala nito, o hanapin ang live sa pahina ng shop.",
        "ar": "تحقق من الرابط مع الصديق الذي أرسله، أو ابحث عن البث المباشر في صفحة المتجر.",
        "de": "Frag bei der Person nach, die dir den Link geschickt hat, oder such den Live-Stream im Shop.",
        "fr": "Vérifiez le lien avec l'ami qui vous l'a envoyé, ou cherchez le live sur la page de la boutique.",
        "es": "Comprueba el enlace con quien te lo envió o busca el directo en la página de la tienda.",
        "zh": "请向发送链接的朋友确认，或在店铺页面查找直播。",
    },
    "live_on": {
        "en": "Live on {when}",
        "id": "Siaran langsung {when}",
        "th": "ไลฟ์สด {when}",
        "vi": "Phát trực tiếp lúc {when}",
        "ms": "Siaran langsung pada {when}",
        "fil": "Live sa {when}",
        "ar": "بث مباشر في {when}",
        "de": "Live am {when}",
        "fr": "En direct le {when}",
        "es": "En directo el {when}",
        "zh": "直播时间：{when}",
    },
    "invited": {
        "en": "A friend invited you: reserve your seat and join the live.",
        "id": "Seorang teman mengundangmu: pesan tempatmu dan ikuti siaran langsungnya.",
        "th": "เพื่อนชวนคุณ: จองที่นั่งแล้วมาร่วมไลฟ์กัน",
        "vi": "Một người bạn đã mời bạn: đặt chỗ và tham gia buổi live.",
        "ms": "Seorang rakan menjemput anda: tempah tempat dan sertai siaran langsung.",
        "fil": "Inimbitahan ka ng isang kaibigan: mag-reserve at sumali sa live.",
        "ar": "دعاك صديق: احجز مقعدك وانضم إلى البث المباشر.",
        "de": "Du wurdest eingeladen: Platz reservieren und beim Live dabei sein.",
        "fr": "Un ami vous invite : réservez votre place et rejoignez le live.",
        "es": "Un amigo te invita: reserva tu plaza y únete al directo.",
        "zh": "好友邀请你：预约席位，一起看直播。",
    },
}

_CRAWLERS = re.compile(
    r"facebookexternalhit|facebot|whatsapp|twitterbot|telegrambot|\bline/|linespider|slackbot|slack-imgproxy|"
    r"discordbot|linkedinbot|pinterest|skypeuripreview|vkshare|googlebot|bingbot|applebot|redditbot|embedly|"
    r"iframely|zalo|kakaotalk-scrap|viber|snapchat|mastodon|bluesky|yandex",
    re.IGNORECASE,
)


def is_link_preview(user_agent: str) -> bool:
    """Link-preview crawlers fetch the page to draw a card; they are not people clicking."""
    return bool(user_agent) and _CRAWLERS.search(user_agent) is not None


def pick_language(accept_language: str) -> str:
    preferred = []
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag and tag != "*":
            preferred.append(tag)
            preferred.append(tag.split("_")[0])
    if any(p.lower() == "tl" for p in preferred):  # Tagalog speakers get Filipino
        preferred.append("fil")
    return negotiate_locale(preferred, list(LANGS)) or "en"


def text(key: str, lang: str) -> str:
    table = _TEXTS[key]
    return table.get(lang) or table["en"]


def _page(lang: str, title: str, body: str, head: str = "") -> bytes:
    direction = "rtl" if lang in RTL else "ltr"
    return (
        f'<!doctype html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
        f"{head}<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;"
        f"line-height:1.5}}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>"
        f"</body></html>"
    ).encode()


def not_found_page(accept_language: str) -> bytes:
    lang = pick_language(accept_language)
    return _page(lang, text("not_found_title", lang), text("not_found_body", lang))


def preview_page(campaign: dict, url: str, accept_language: str) -> bytes:
    """An Open Graph card: the campaign's title and start, in the viewer's language and the market's time."""
    lang = pick_language(accept_language)
    starts = datetime.fromtimestamp(parse_iso(campaign["starts_at"], field="starts_at") / 1000, ZoneInfo("UTC"))
    tz = ZoneInfo(campaign["timezone"])
    when = format_datetime(starts.astimezone(tz), "medium", tzinfo=tz, locale=Locale.parse(lang)) + " " + (
        starts.astimezone(tz).tzname() or ""
    )
    title = campaign["title"]
    description = text("live_on", lang).format(when=when) + " · " + text("invited", lang)
    esc = html.escape
    head = (
        f'<meta property="og:type" content="website"><meta property="og:title" content="{esc(title)}">'
        f'<meta property="og:description" content="{esc(description)}"><meta property="og:url" content="{esc(url)}">'
        f'<meta name="twitter:card" content="summary"><meta name="twitter:title" content="{esc(title)}">'
        f'<meta name="twitter:description" content="{esc(description)}">'
    )
    return _page(lang, title, description, head)
