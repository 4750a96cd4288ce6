"""The console's words in the operator's language: the `console` catalogues of liveloop.i18n.

The console speaks fewer languages than viewers do (CONSOLE_LANGS); an operator picks one with the
switcher (a `lang` cookie), else the browser's Accept-Language decides. Catalogues are read as the
viewer catalogues are (msgids are keys, English is the fallback, no compile step).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

from babel.messages.pofile import read_po

from liveloop.i18n import RTL, negotiate

CONSOLE_LANGS = ("en", "zh", "ar")
LANG_NAMES = {"en": "English", "zh": "中文", "ar": "العربية"}
DOMAIN = "console"


@lru_cache(maxsize=len(CONSOLE_LANGS))
def messages(lang: str) -> Mapping[str, str]:
    path = resources.files("liveloop.i18n").joinpath("locales", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    with path.open("rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    return {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}


def pick(cookie: str | None, accept_language: str | None) -> str:
    if cookie in CONSOLE_LANGS:
        return cookie
    lang = negotiate(accept_language).lang
    return lang if lang in CONSOLE_LANGS else "en"


def is_rtl(lang: str) -> bool:
    return lang in RTL


def gettext(lang: str, msgid: str, **values: object) -> str:
    """The message in `lang` (English when missing there); an unknown msgid is a KeyError."""
    text = messages(lang).get(msgid) or messages("en")[msgid]
    return text.format_map(values) if values else text
