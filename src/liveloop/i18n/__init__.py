"""Viewer-facing texts in the viewer's language, from gettext catalogues.

Every text a viewer sees (share-link pages, link previews, share copy, stream messages, reward and
draw notices) is a message of `locales/<lang>/LC_MESSAGES/liveloop.po`, one catalogue per
language of LANGS. msgids are stable keys ("stream.friend_joined"); English (en) is the source
text. Catalogues are read with Babel's `read_po` the first time a language is used and kept as
dicts: no compile step, no .mo files to keep in step with the .po files, and a lookup is a dict
access. A message missing (or empty) in a catalogue is taken from English; an unknown key is a
programming error (KeyError) and never reaches a viewer. tests/unit/test_i18n.py checks that every
catalogue translates every message with the same placeholders.

Placeholders are `str.format` fields. Numbers given to `translate` are formatted in the viewer's
locale; money, dates and rewards are formatted by the helpers of `liveloop.i18n.format`.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGS = ("en", "id", "th", "vi", "ms", "fil", "ar", "de", "fr", "es", "zh")
DEFAULT = "en"
RTL = frozenset({"ar"})
DOMAIN = "liveloop"
_ALIASES = {"tl": "fil", "in": "id", "zsm": "ms"}  # Tagalog speakers read Filipino; legacy/ISO 639-3 codes


@dataclass(frozen=True, slots=True)
class Catalogue:
    lang: str
    messages: Mapping[str, str | tuple[str, ...]]  # plural messages hold one form per plural index
    plural: Callable[[int], int]  # the catalogue's Plural-Forms expression: count -> form index


@dataclass(frozen=True, slots=True)
class Choice:
    """What a viewer reads: the catalogue language, and the Babel locale that formats numbers and dates."""

    lang: str
    locale: Locale

    @property
    def rtl(self) -> bool:
        return self.lang in RTL


def catalogue_path(lang: str) -> Traversable:
    return resources.files("liveloop.i18n").joinpath("locales", lang, "LC_MESSAGES", f"{DOMAIN}.po")


@lru_cache(maxsize=len(LANGS))
def catalogue(lang: str) -> Catalogue:
    """A language's catalogue, read once; only translated messages are kept."""
    with catalogue_path(lang).open("rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    messages: dict[str, str | tuple[str, ...]] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue  # the header, and guesses a translator has not confirmed
        if message.pluralizable:
            forms = tuple(message.string or ())
            if len(forms) == po.num_plurals and all(forms):
                messages[message.id[0]] = forms
        elif message.string:
            messages[message.id] = message.string
    return Catalogue(lang, MappingProxyType(messages), gettext.c2py(po.plural_expr))


def _base(tag: str) -> str:
    base = tag.replace("_", "-").split("-")[0].lower()
    return _ALIASES.get(base, base)


def language(tag: str | None) -> str:
    """The catalogue language for a locale tag ("ar-SA" -> "ar", "zh-Hant-TW" -> "zh", "tl" -> "fil")."""
    base = _base(tag) if tag else DEFAULT
    return base if base in LANGS else DEFAULT


@lru_cache(maxsize=512)
def choose(tag: str | None) -> Choice:
    """The choice for a locale tag (a user's `locale`): the full tag formats if Babel knows it."""
    lang = language(tag)
    try:
        found = Locale.parse(tag.replace("-", "_")) if tag else None
    except (UnknownLocaleError, ValueError, TypeError):
        found = None
    if found is None or _base(str(found)) != lang:
        found = Locale.parse(lang)
    return Choice(lang, found)


def negotiate(accept_language: str | None) -> Choice:
    """The best of the viewer's Accept-Language preferences (by q-value, then order) that we translate."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or _base(tag) not in LANGS:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, position, tag))
    return choose(min(ranked)[2] if ranked else DEFAULT)


def template(lang: str, msgid: str) -> str | tuple[str, ...]:
    """The unformatted message `msgid` of catalogue `lang`, taken from English when `lang` lacks it."""
    text = catalogue(lang).messages.get(msgid)
    if text is None:
        text = catalogue(DEFAULT).messages.get(msgid)
        if text is None:
            raise KeyError(f"no message {msgid!r} in the {DEFAULT} catalogue")
    return text


def translate(tag: str | None, msgid: str, **values: object) -> str:
    """The message `msgid` in the language of `tag`, its placeholders filled in.

    Numbers among `values` are formatted in the tag's locale. A plural message (e.g. "reward.points")
    picks its form by `count`, which must be given.
    """
    choice = choose(tag)
    source = catalogue(choice.lang)
    text = source.messages.get(msgid)
    if text is None:
        source = catalogue(DEFAULT)
        text = source.messages.get(msgid)
        if text is None:
            raise KeyError(f"no message {msgid!r} in the {DEFAULT} catalogue")
    if isinstance(text, tuple):
        count = values.get("count")
        if not isinstance(count, int) or isinstance(count, bool):
            raise TypeError(f"{msgid} is a plural message: give count=<int>")
        text = text[min(source.plural(abs(count)), len(text) - 1)]
    return text.format_map({name: _shown(value, choice.locale) for name, value in values.items()})


def _shown(value: object, fmt_locale: Locale) -> object:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format_decimal(value, locale=fmt_locale)
    return value
