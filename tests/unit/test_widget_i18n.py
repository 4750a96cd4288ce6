"""The widget's texts come from the gettext catalogues; stream messages are written in the viewer's words."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from string import Formatter

import pytest

from liveloop import i18n
from liveloop.i18n.stream import stream_text, viewer_locale
from liveloop.i18n.widget import WIDGET_MESSAGES, widget_texts
from liveloop.realtime.api import widget_script


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in Formatter().parse(text) if name is not None}


def served_texts(script: bytes) -> dict:
    """The table as the served script carries it."""
    text = script.decode()
    start = text.index("var I18N = ") + len("var I18N = ")
    table, _end = json.JSONDecoder().raw_decode(text, start)
    return table


def edit_german(tmp_path, monkeypatch, edit) -> None:
    """Read the German catalogue as `edit` leaves it."""
    (tmp_path / "de.po").write_text(edit(i18n.catalogue_path("de").read_text("utf-8")), "utf-8")
    real = i18n.catalogue_path
    monkeypatch.setattr(i18n, "catalogue_path", lambda lang: tmp_path / "de.po" if lang == "de" else real(lang))
    i18n.catalogue.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_catalogues():
    i18n.catalogue.cache_clear()
    yield
    i18n.catalogue.cache_clear()


def without_two(german: str) -> str:
    """widget.invite left untranslated, widget.copied removed."""
    german = german.replace('msgstr "Freunde einladen"', 'msgstr ""')
    german, removed = re.subn(r'\n#[^\n]*\nmsgid "widget.copied"\nmsgstr "[^"]*"\n', "\n", german)
    assert removed == 1
    return german


# --- the widget's table -------------------------------------------------------------------------------


def test_the_widget_table_has_every_text_in_every_language():
    table = widget_texts()
    assert set(table["strings"]) == set(i18n.LANGS)
    english = table["strings"]["en"]
    for lang, texts in table["strings"].items():
        assert set(texts) == set(WIDGET_MESSAGES), lang
        for msgid, text in texts.items():
            assert text.strip() and text != msgid, (lang, msgid)
            assert fields(text) == fields(english[msgid]), (lang, msgid, text)
    assert table["rtl"] == ["ar"] and table["aliases"]["tl"] == "fil"


def test_the_widget_speaks_each_language_with_the_words_it_had():
    strings = widget_texts()["strings"]
    assert strings["de"]["widget.invite"] == "Freunde einladen"
    assert strings["ar"]["widget.copied"] == "تم نسخ الرابط"
    assert strings["zh"]["widget.draw_won"] == "你中奖了！"
    assert strings["fil"]["stream.friend_unknown"] == "Isang kaibigan"
    # Every language but English has its own words for the widget's button.
    invites = [strings[lang]["widget.invite"] for lang in i18n.LANGS]
    assert len(set(invites)) == len(invites)


def test_a_missing_widget_text_falls_back_to_english_never_to_its_key(tmp_path, monkeypatch):
    edit_german(tmp_path, monkeypatch, without_two)
    strings = widget_texts()["strings"]
    assert strings["de"]["widget.invite"] == "Invite friends"
    assert strings["de"]["widget.copied"] == "Link copied"
    assert strings["de"]["widget.draw_won"] == "Du hast die Verlosung gewonnen!"
    assert served_texts(widget_script())["strings"]["de"]["widget.copied"] == "Link copied"


def test_the_served_script_carries_the_catalogues_and_changes_with_them(tmp_path, monkeypatch):
    script = widget_script()
    assert b"liveloop:i18n" not in script
    assert served_texts(script) == widget_texts()
    edit_german(tmp_path, monkeypatch, lambda po: po.replace('"Link kopiert"', '"Link ist kopiert"'))
    changed = widget_script()
    assert changed != script  # a new catalogue is a new script, hence a new ETag
    assert served_texts(changed)["strings"]["de"]["widget.copied"] == "Link ist kopiert"


# --- stream texts ------------------------------------------------------------------------------------


REWARD = {"kind": "coupon", "amount": "2.50", "percent_off": None, "currency": "EUR", "points": None,
          "name": None, "status": "available", "reason": None, "available_at": None}


def test_stream_texts_are_written_in_the_viewers_locale():
    friend = {"type": "friend_reserved", "friend": {"user_id": "f", "display_name": "Fina"}}
    assert stream_text(friend, "ar-SA", "Asia/Riyadh") == "حجز Fina مقعدًا عبر دعوتك"
    anonymous = {"type": "friend_clicked", "friend": None}
    assert stream_text(anonymous, "id", "Asia/Jakarta") == "Seorang teman membuka tautan undanganmu"
    assert stream_text({"type": "rank", "rank": 1200, "score": 3}, "de-DE", "Europe/Berlin") == (
        "Du bist jetzt auf Platz 1.200 der Bestenliste")
    assert stream_text({"type": "rank", "rank": None, "score": 0}, "de-DE", "Europe/Berlin") is None
    assert stream_text({"type": "reconnect"}, "en", "UTC") is None


def test_reward_texts_format_money_and_dates_by_locale():
    assert stream_text({"type": "reward", "reward": REWARD}, "de-DE", "Europe/Berlin") == (
        "Du hast einen Gutschein über 2,50\xa0€ erhalten")
    assert stream_text({"type": "reward", "reward": REWARD | {"currency": "USD"}}, "en-US", "UTC") == (
        "You earned a $2.50 coupon")
    pending = REWARD | {"status": "pending", "available_at": "2027-03-01T23:30:00Z"}
    # The date is the campaign's local date: 2 March in Jakarta.
    assert stream_text({"type": "reward", "reward": pending}, "en", "Asia/Jakarta") == (
        "You earned a €2.50 coupon, available on Tue, Mar 2, 2027")
    declined = REWARD | {"status": "declined", "reason": "budget"}
    assert stream_text({"type": "reward", "reward": declined}, "fr", "Europe/Paris") == (
        "Nous n'avons pas pu vous attribuer un bon de réduction de 2,50\xa0€ : "
        "le budget de récompenses de la campagne est épuisé")
    assert stream_text({"type": "reward", "reward": REWARD | {"status": "void", "reason": "refund"}}, "en",
                       "UTC") is None
    prize = {"kind": "points", "points": 3}
    assert stream_text({"type": "draw_won", "prize": prize}, "ar", "Asia/Riyadh") == "فزت بـ3 نقاط في السحب!"


def test_a_viewer_reads_their_own_locale_else_the_markets():
    assert viewer_locale("ar-SA", "ID") == "ar-SA"
    assert viewer_locale(None, "ID") == "id"
    assert viewer_locale(None, "DE") == "de-DE"
    assert viewer_locale(None, "NOPE") == "en"


# --- the widget in a JavaScript engine ---------------------------------------------------------------


HARNESS = r"""
const vm = require("vm");
const fs = require("fs");
const [scriptPath, attrsJson, messagesJson] = process.argv.slice(2);
function el() {
  const own = {};
  return { attrs: {}, children: [], textContent: "", hidden: false, style: {},
    setAttribute(k, v) { this.attrs[k] = v; }, getAttribute(k) { return this.attrs[k]; }, addEventListener() {},
    focus() {}, querySelector(sel) { return own[sel] || (own[sel] = el()); },
    get firstChild() { return this.children[0] || null; }, get lastChild() { return this.children.at(-1); },
    appendChild(n) { this.children.push(n); return n; },
    insertBefore(n, ref) {
      this.children.splice(ref ? this.children.indexOf(ref) : this.children.length, 0, n);
    },
    removeChild(n) { this.children.splice(this.children.indexOf(n), 1); } };
}
const host = el();
const parts = { ".p": host.querySelector(".p"), ".m": host.querySelector(".m"), "button": host.querySelector(".inv") };
const attrs = JSON.parse(attrsJson);
const sources = [];
const ctx = {
  document: { currentScript: { src: "https://l.example/widget/liveloop.js", getAttribute: (k) => attrs[k] ?? null },
    documentElement: { lang: "", dir: "" }, title: "Live", body: { appendChild() {} },
    createElement: (tag) => (tag === "div" ? host : el()), addEventListener() {} },
  navigator: { language: "en-US" }, location: { href: "https://shop.example/live", search: "" },
  window: { dispatchEvent() {} }, URL, URLSearchParams, Intl, JSON, String,
  CustomEvent: class { constructor(type, init) { this.type = type; this.detail = init && init.detail; } },
  EventSource: class { constructor(url) { this.url = url; this.readyState = 1; sources.push(this); } close() {} },
  fetch: () => new Promise(() => {}), setTimeout: () => 0, clearTimeout() {}, prompt() {},
};
ctx.window.EventSource = ctx.EventSource;
vm.runInNewContext(fs.readFileSync(scriptPath, "utf8"), ctx);
for (const msg of JSON.parse(messagesJson)) sources[0].onmessage({ data: JSON.stringify(msg) });
console.log(JSON.stringify({ button: parts.button.textContent, lang: parts[".p"].attrs.lang, dir: parts[".p"].attrs.dir,
  said: parts[".m"].children.map((c) => c.textContent).reverse() }));
"""


def run_widget(tmp_path, attrs: dict, messages: list[dict]) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the widget's JavaScript is not run")
    (tmp_path / "widget.js").write_bytes(widget_script())
    (tmp_path / "harness.js").write_text(HARNESS, "utf-8")
    done = subprocess.run([node, str(tmp_path / "harness.js"), str(tmp_path / "widget.js"), json.dumps(attrs),
                           json.dumps(messages)], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


def test_the_widget_shows_the_messages_text_and_its_own_words_otherwise(tmp_path):
    attrs = {"data-token": "tok", "data-invite-url": "https://l.example/s/abc", "data-lang": "de-AT"}
    shown = run_widget(tmp_path, attrs, [
        {"type": "friend_joined", "friend": {"user_id": "a", "display_name": "Ana"}, "text": "انضم Ana"},
        {"type": "friend_joined", "friend": {"user_id": "b", "display_name": None}},
        {"type": "rank", "rank": 1500, "score": 4},
        {"type": "reward", "reward": {"kind": "coupon", "status": "available"}},
        {"type": "draw_won", "prize": None},
    ])
    assert shown == {"button": "Freunde einladen", "lang": "de", "dir": "ltr", "said": [
        "انضم Ana", "Jemand ist über deine Einladung beim Live dabei", "Du bist jetzt auf Platz 1.500 der Bestenliste",
        "Du hast die Verlosung gewonnen!"]}


@pytest.mark.parametrize(("lang", "button", "code", "direction"), [
    ("ar-SA", "ادعُ أصدقاءك", "ar", "rtl"),
    ("tl", "Mag-imbita ng kaibigan", "fil", "ltr"),
    ("ja", "Invite friends", "en", "ltr"),
])
def test_the_widget_picks_its_language_from_the_page(tmp_path, lang, button, code, direction):
    shown = run_widget(tmp_path, {"data-token": "tok", "data-lang": lang}, [{"type": "draw_entered"}])
    assert (shown["button"], shown["lang"], shown["dir"]) == (button, code, direction)
    assert shown["said"] == [widget_texts()["strings"][code]["widget.draw_entered"]]
