"""The sharer's results page (`/t/{token}`): server-rendered HTML in the sharer's language.

What their sharing achieved, their rewards, the friends they brought (named only with consent, as in
the report), the campaign's clips to share and the next live to reserve. Right to left for Arabic;
no asset from anywhere but the merchant's own images; every text a tenant or user supplied is
escaped. The one script (share or copy a link) and the style carry the response's CSP nonce.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

from liveloop import i18n
from liveloop.i18n import format as fmt
from liveloop.i18n.stream import stream_text

translate = i18n.translate

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic","Noto Sans Thai",
sans-serif;margin:0;background:#f6f5f2;color:#1d1d1f;line-height:1.5}
main{max-width:36rem;margin:0 auto;padding:1.5rem 1rem 3rem}
.campaign{color:#6b6b70;margin:0}
h1{font-size:1.6rem;margin:.2rem 0 .6rem}
h2{font-size:1.1rem;margin:1.8rem 0 .6rem}
.thanks{font-size:1.05rem;background:#fff;border-radius:.8rem;padding:1rem;margin:0}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(7.5rem,1fr));gap:.6rem;margin:1rem 0 0;padding:0}
.stats div{background:#fff;border-radius:.8rem;padding:.7rem .8rem}
.stats dt{color:#6b6b70;font-size:.85rem}
.stats dd{margin:0;font-size:1.35rem;font-weight:600}
ul{list-style:none;margin:0;padding:0}
li{background:#fff;border-radius:.8rem;padding:.7rem .8rem;margin:0 0 .5rem}
.friend span{color:#6b6b70;margin-inline-start:.4rem}
.clip{display:flex;align-items:center;gap:.8rem}
.clip img{width:4.5rem;height:4.5rem;object-fit:cover;border-radius:.5rem;flex:none;background:#e4e2dc}
.clip a{flex:1;color:inherit;font-weight:600;text-decoration:none}
.next{background:#fff;border-radius:.8rem;padding:1rem}
.next p{margin:0 0 .8rem}
.actions{display:flex;flex-wrap:wrap;gap:.5rem}
.button,button{font:inherit;border:0;border-radius:2rem;padding:.5rem 1.1rem;cursor:pointer;text-decoration:none;
background:#1d1d1f;color:#fff;display:inline-block}
.secondary{background:#e4e2dc;color:#1d1d1f}
"""

# Share a link with the system's share sheet where there is one, else copy it and say so. A thumbnail
# that does not load is taken away rather than shown broken.
_SCRIPT = """
document.querySelectorAll(".clip img").forEach(function (img) {
  function gone() { img.remove(); }
  if (img.complete && !img.naturalWidth) { gone(); } else { img.addEventListener("error", gone); }
});
document.querySelectorAll("button[data-url]").forEach(function (b) {
  b.addEventListener("click", function () {
    var url = b.getAttribute("data-url");
    if (navigator.share) { navigator.share({url: url}).catch(function () {}); return; }
    navigator.clipboard.writeText(url).then(function () { b.textContent = b.getAttribute("data-copied"); });
  });
});
"""


@dataclass(frozen=True, slots=True)
class Clip:
    title: str
    thumbnail_url: str | None
    share_url: str


@dataclass(frozen=True, slots=True)
class NextLive:
    title: str
    starts_at: int
    reserve_url: str  # the next campaign's landing URL
    share_url: str  # the sharer's own invite link to it


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _own(text: str) -> str:
    """A name or title as its author wrote it: escaped, and isolated in its own direction, so that
    "The best <moments>" stays whole on an Arabic page and an Arabic name on an English one."""
    return f"<bdi>{_e(text)}</bdi>"


def _document(choice: i18n.Choice, title: str, body: str, nonce: str, *, script: bool) -> bytes:
    direction = "rtl" if choice.rtl else "ltr"
    tail = f'<script nonce="{nonce}">{_SCRIPT}</script>' if script else ""
    return (
        f'<!doctype html><html lang="{_e(choice.lang)}" dir="{direction}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>{_e(title)}</title><style nonce=\"{nonce}\">{_STYLE}</style></head>"
        f"<body><main>{body}</main>{tail}</body></html>"
    ).encode()


def results_page(report: Mapping, *, campaign: Mapping, tz: str, clips: list[Clip], next_live: NextLive | None,
                 nonce: str) -> bytes:
    """The page of one sharer's `report` (afterlive/sharers.py), in its message's locale, times in `tz`."""
    tag = report["message"]["locale"]
    choice = i18n.choose(tag)
    t = translate
    stats = [
        (t(tag, "page.clicks"), fmt.number(report["clicks"], tag)),
        (t(tag, "page.joins"), fmt.number(report["joins"], tag)),
        (t(tag, "page.orders"), fmt.number(report["orders"], tag)),
        (t(tag, "page.gmv"), fmt.money(report["gmv"], campaign["currency"], tag)),
    ]
    if report["rank"] is not None:
        stats.append((t(tag, "page.rank"), fmt.number(report["rank"], tag)))
    parts = [
        f'<p class="campaign">{_own(campaign["title"])}</p>',
        f"<h1>{_e(t(tag, 'page.heading'))}</h1>",
        f'<p class="thanks">{_e(report["message"]["body"])}</p>',
        '<dl class="stats">' + "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in stats) + "</dl>",
        f"<h2>{_e(t(tag, 'page.rewards'))}</h2>",
    ]
    rewards = [text for r in report["rewards"]
               if (text := stream_text({"type": "reward", "reward": r}, tag, tz)) is not None]
    if rewards:
        parts.append('<ul class="rewards">' + "".join(f"<li>{_e(text)}</li>" for text in rewards) + "</ul>")
    else:
        parts.append(f"<p>{_e(t(tag, 'page.no_rewards'))}</p>")
    if report["friends"]:
        parts.append(f"<h2>{_e(t(tag, 'page.friends'))}</h2>")
        parts.append('<ul class="friends">' + "".join(_friend(f, tag) for f in report["friends"]) + "</ul>")
    copied = _e(t(tag, "widget.copied"))
    if clips:
        parts.append(f"<h2>{_e(t(tag, 'page.clips'))}</h2><ul>")
        for clip in clips:
            image = f'<img src="{_e(clip.thumbnail_url)}" alt="" loading="lazy">' if clip.thumbnail_url else ""
            parts.append(
                f'<li class="clip">{image}<a href="{_e(clip.share_url)}" rel="noreferrer">{_own(clip.title)}</a>'
                f'<button type="button" data-url="{_e(clip.share_url)}" data-copied="{copied}">'
                f"{_e(t(tag, 'page.share'))}</button></li>")
        parts.append("</ul>")
    if next_live is not None:
        when = fmt.instant(next_live.starts_at, tz, tag)
        parts.append(
            f"<h2>{_e(t(tag, 'page.next'))}</h2><div class=\"next\"><p><strong>{_own(next_live.title)}</strong><br>"
            f"{_e(t(tag, 'share.preview.live_on', when=when))}</p><p class=\"actions\">"
            f'<a class="button" href="{_e(next_live.reserve_url)}" rel="noreferrer">{_e(t(tag, "page.reserve"))}</a>'
            f'<button type="button" class="secondary" data-url="{_e(next_live.share_url)}" data-copied="{copied}">'
            f"{_e(t(tag, 'widget.invite'))}</button></p></div>")
    return _document(choice, report["message"]["subject"], "".join(parts), nonce,
                     script=bool(clips) or next_live is not None)


def _friend(friend: Mapping, tag: str) -> str:
    name = _own(friend["display_name"]) if friend["display_name"] else _e(translate(tag, "stream.friend_unknown"))
    did = [translate(tag, "page.friend_joined")] if friend["joined"] else []
    if friend["ordered"]:
        did.append(translate(tag, "page.friend_ordered"))
    what = " · ".join(did) if did else translate(tag, "page.friend_came")
    return f'<li class="friend">{name}<span>{_e(what)}</span></li>'


def too_many_page(accept_language: str | None, nonce: str) -> bytes:
    """One address opened too many results pages this minute: in the visitor's language, when to come back."""
    choice = i18n.negotiate(accept_language)
    title = translate(choice.lang, "page.too_many.title")
    body = f"<h1>{_e(title)}</h1><p>{_e(translate(choice.lang, 'page.too_many.body'))}</p>"
    return _document(choice, title, body, nonce, script=False)


def not_found_page(accept_language: str | None, nonce: str) -> bytes:
    """A forged, expired or unknown link: in the visitor's language, saying what to do."""
    choice = i18n.negotiate(accept_language)
    title = translate(choice.lang, "page.not_found.title")
    body = f"<h1>{_e(title)}</h1><p>{_e(translate(choice.lang, 'page.not_found.body'))}</p>"
    return _document(choice, title, body, nonce, script=False)
