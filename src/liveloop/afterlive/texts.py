"""What a sharer and a reserved viewer read after and before the live, in their own locale.

Every sentence is a message of the gettext catalogues (liveloop/i18n); counts pick their plural
form there, and numbers, money and dates are formatted by Babel for the reader's locale.
"""

from __future__ import annotations

from liveloop.i18n import format as fmt
from liveloop.i18n import translate
from liveloop.kit.money import to_decimal_str


def thank_you(tag: str, *, title: str, metrics: dict[str, int], currency: str, rank: int | None,
              rewards: int) -> dict:
    """The sharer's thank-you: `{locale, subject, body}`, e.g. "Thanks to you, 5 friends joined the live
    and placed 3 orders." `metrics` are the engine's (gmv in minor units)."""
    joins, orders, clicks = metrics["joins"], metrics["orders"], metrics["clicks"]
    placed = translate(tag, "sharer.orders", count=orders)
    if joins and orders:
        sentences = [translate(tag, "sharer.thanks.joined_ordered", count=joins, orders=placed)]
    elif joins:
        sentences = [translate(tag, "sharer.thanks.joined", count=joins)]
    elif orders:
        sentences = [translate(tag, "sharer.thanks.ordered", orders=placed)]
    else:
        sentences = [translate(tag, "sharer.thanks.opened", times=translate(tag, "sharer.times", count=clicks))]
    if metrics["gmv"] > 0:
        amount = fmt.money(to_decimal_str(metrics["gmv"], currency) or "0", currency, tag)
        sentences.append(translate(tag, "sharer.gmv", amount=amount))
    if rank is not None:
        sentences.append(translate(tag, "sharer.rank", rank=rank))
    if rewards:
        sentences.append(translate(tag, "sharer.rewards", count=rewards))
    return {"locale": tag, "subject": translate(tag, "sharer.subject", title=title), "body": _joined(sentences)}


def _joined(sentences: list[str]) -> str:
    """Sentences one after another: with a space, except after a full-width full stop (Chinese)."""
    text = ""
    for sentence in sentences:
        text += sentence if not text or text.endswith(("。", "！")) else " " + sentence
    return text


def reminder(tag: str, *, title: str, starts_at: int, tz: str) -> str:
    """A reserved viewer's reminder: the live's title and its start in their own time and words."""
    return translate(tag, "reminder.text", title=title, when=fmt.instant(starts_at, tz, tag))
