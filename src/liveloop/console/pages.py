"""Rendering the console's pages: Jinja2 templates with autoescape on, in the operator's language."""

from __future__ import annotations

from functools import cache
from importlib import resources

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from liveloop.console.texts import CONSOLE_LANGS, LANG_NAMES, gettext, is_rtl

# What the browser may load and run on a console page: only liveloop's own files. Chart.js sizes its
# canvases through style attributes, hence 'unsafe-inline' for styles (never for scripts).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY"}

# The static files a page may ask for (the vendored builds are named with their version).
STATIC = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "htmx-2.0.11.min.js": "text/javascript; charset=utf-8",
    "htmx-ext-sse-2.2.4.min.js": "text/javascript; charset=utf-8",
    "chart-4.6.2.umd.min.js": "text/javascript; charset=utf-8",
}


def _load(name: str) -> str | None:
    path = resources.files("liveloop.console").joinpath("templates", name)
    return path.read_text("utf-8") if path.is_file() else None


@cache
def environment() -> Environment:
    env = Environment(loader=FunctionLoader(_load), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["static"] = lambda name: f"/console/static/{name}"
    env.globals["langs"] = [(code, LANG_NAMES[code]) for code in CONSOLE_LANGS]
    # A name put into a sentence keeps its own direction (first strong isolate .. pop directional isolate):
    # "Spring <live>" in an Arabic heading stays "Spring <live>".
    env.filters["bidi"] = lambda text: f"\u2068{text}\u2069"
    return env


def render(name: str, *, lang: str, here: str, status: int = 200, session=None, headers: dict | None = None,
           **context) -> HTMLResponse:
    """A page in `lang`; `here` is the path the language switcher comes back to."""
    html = environment().get_template(name).render(
        lang=lang, rtl=is_rtl(lang), here=here, session=session,
        t=lambda msgid, **values: gettext(lang, msgid, **values), **context)
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


@cache
def static_file(name: str) -> bytes:
    return resources.files("liveloop.console").joinpath("static", name).read_bytes()
