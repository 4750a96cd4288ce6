"""Screening a campaign's texts against the per-market lexicons in markets/lexicons/*.json.

A lexicon is one category of words (alcohol, pork, gambling, ...) listed per language. Matching is
whole-word and case-insensitive, a hyphenated compound counting as one word (so "pork-free" and
"alcohol-free", selling points in these markets, are not hits). It runs on a folded copy of the
text: compatibility forms (full-width Latin, Arabic presentation forms) are unified, Arabic
diacritics and tatweel dropped and the variant spellings of alef, yeh, kaf and teh marbuta
merged, so "الخمْر" and "الخمر" are the same word. Arabic attaches the article and some
conjunctions and prepositions to the word, so an Arabic entry also matches after "ال", "وال",
"بال", "لل", "و" and the like. The words reported are spelled as the campaign wrote them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

FIELDS = ("title", "description", "share_text")

# Arabic proclitics: an optional wa/fa, then the article (possibly after bi/ka), or li+article
# contracted to "لل". Bare bi/li/ka are not allowed alone: "ب" + "رهان" is the name Burhan.
_ARABIC_PREFIX = "(?:[وف]?(?:[بك]?ال|لل)|[وف])?"
_DROP = frozenset(
    [chr(c) for c in range(0x064B, 0x0660)]  # harakat, shadda, sukun, ...
    + ["\u0670", "\u0640", "\u00ad", "\u061c", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\ufeff"]
)
_MAP = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ک": "ك", "ة": "ه"}


class LexiconError(ValueError):
    """A lexicon file is malformed."""


@dataclass(frozen=True, slots=True)
class Hit:
    category: str
    field: str
    word: str  # as written in the campaign


def fold(text: str) -> tuple[str, list[int]]:
    """The text as matched, and for each of its characters the index it came from in `text`."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if c in _DROP:
                continue
            out.append(_MAP.get(c, c))
            origin.append(i)
    return "".join(out), origin


def _is_arabic(word: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in word)


def _entry_pattern(entry: str) -> str:
    prefix_match = entry.endswith("*")
    core = entry.rstrip("*")
    tokens = fold(core)[0].split()
    if not tokens:
        raise LexiconError(f"empty lexicon entry {entry!r}")
    body = r"\s+".join(re.escape(t) for t in tokens) + (r"\w*" if prefix_match else "")
    return (_ARABIC_PREFIX + body) if _is_arabic(core) else body


def _compile(words: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so that "minuman keras" is reported whole rather than as a shorter entry.
    alternatives = sorted({_entry_pattern(w) for w in words}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


@lru_cache(maxsize=1)
def lexicons() -> Mapping[str, Mapping[str, re.Pattern[str]]]:
    """Compiled lexicons: category -> language -> pattern; read once from the package."""
    folder = resources.files("liveloop.markets").joinpath("lexicons")
    result: dict[str, Mapping[str, re.Pattern[str]]] = {}
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if not item.name.endswith(".json"):
            continue
        category = item.name.removesuffix(".json")
        try:
            words = json.loads(item.read_text("utf-8"))["words"]
            result[category] = MappingProxyType({
                lang: _compile(_words(entries, f"{category}.{lang}")) for lang, entries in words.items()
            })
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise LexiconError(f"lexicon {item.name}: {exc}") from None
    return MappingProxyType(result)


def _words(entries: object, where: str) -> list[str]:
    if not isinstance(entries, list) or not entries or not all(isinstance(w, str) and w.strip() for w in entries):
        raise LexiconError(f"{where} must be a non-empty list of words")
    return entries


def scan(texts: Mapping[str, str | None], categories: Iterable[str], languages: Iterable[str]) -> list[Hit]:
    """Every lexicon word of `categories` in `languages` found in the given fields, in field order."""
    table = lexicons()
    patterns = [(c, table[c][lang]) for c in categories for lang in languages if lang in table[c]]
    hits: list[Hit] = []
    for field, text in texts.items():
        if not text:
            continue
        text = unicodedata.normalize("NFC", text)  # so a decomposed accent does not split a word
        folded, origin = fold(text)
        found: dict[tuple[int, int], str] = {}
        for category, pattern in patterns:
            for m in pattern.finditer(folded):
                start, end = origin[m.start()], origin[m.end() - 1] + 1
                while end < len(text) and (text[end] in _DROP or unicodedata.combining(text[end])):
                    end += 1  # the word's trailing diacritics belong to it
                found.setdefault((start, end), category)
        hits.extend(Hit(category, field, text[s:e]) for (s, e), category in sorted(found.items()))
    return hits
