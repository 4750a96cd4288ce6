"""Viewer texts: complete gettext catalogues, English fallback, Babel formatting, localized share pages."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from importlib import resources
from string import Formatter

import pytest
from babel.messages.pofile import read_po

from liveloop import i18n
from liveloop.i18n import format as fmt
from liveloop.sharelink.pages import not_found_page, preview_page

SPEC_LANGS = {"en", "id", "th", "vi", "ms", "fil", "ar", "de", "fr", "es", "zh"}
STREAM_MESSAGES = ("stream.friend_clicked", "stream.friend_reserved", "stream.friend_joined", "stream.rank",
                   "stream.reward", "stream.draw_entered", "stream.draw_won", "stream.reconnecting")


def po(lang: str):
    with i18n.catalogue_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in Formatter().parse(text) if name is not None}


def english() -> dict:
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in po("en") if m.id}


# --- catalogues -------------------------------------------------------------------------------------


def test_there_is_a_catalogue_for_every_language_of_the_spec_and_no_other():
    folder = resources.files("liveloop.i18n").joinpath("locales")
    assert {p.name for p in folder.iterdir() if p.is_dir()} == SPEC_LANGS == set(i18n.LANGS)


def test_the_viewer_stream_and_share_page_messages_exist():
    source = english()
    for msgid in (*STREAM_MESSAGES, "share.not_found.title", "share.preview.live_on", "share.copy"):
        assert msgid in source


@pytest.mark.parametrize("lang", sorted(SPEC_LANGS))
def test_every_catalogue_translates_every_message_with_the_same_placeholders(lang):
    catalogue = po(lang)
    source = english()
    own = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalogue if m.id}
    assert set(own) == set(source), f"{lang}: missing {set(source) - set(own)}, extra {set(own) - set(source)}"
    for msgid, message in own.items():
        assert not message.fuzzy, (lang, msgid)
        wanted = source[msgid].string
        if isinstance(wanted, tuple):
            forms = message.string
            assert len(forms) == catalogue.num_plurals and all(forms), (lang, msgid, forms)
            placeholders = set().union(*(fields(f) for f in forms))
            assert placeholders == set().union(*(fields(f) for f in wanted)), (lang, msgid)
        else:
            assert isinstance(message.string, str) and message.string.strip(), (lang, msgid)
            assert fields(message.string) == fields(wanted), (lang, msgid, message.string)


@pytest.mark.parametrize("lang", sorted(SPEC_LANGS))
def test_every_message_renders_in_every_language(lang):
    values = {"name": "Ana", "rank": 3, "reward": "R", "prize": "P", "date": "D", "reason": "X", "when": "W",
              "title": "T", "url": "https://x", "amount": "$5", "percent": "20%", "count": 7, "orders": "O",
              "times": "N", "current": 1, "target": 3, "total": 9, "entered": 2, "members": 2, "size": 3,
              "time": "4:05", "max": 2000}
    for msgid in english():
        text = i18n.translate(lang, msgid, **values)
        assert text and "{" not in text and msgid not in text


def test_a_missing_translation_falls_back_to_english_never_to_the_key(tmp_path, monkeypatch):
    german = i18n.catalogue_path("de").read_text("utf-8")
    german = german.replace('msgstr "Du hast {reward} erhalten"', 'msgstr ""')
    german = re.sub(r'\n#[^\n]*\nmsgid "stream.reconnected"\nmsgstr "[^"]*"\n', "\n", german)
    (tmp_path / "de.po").write_text(german, "utf-8")
    real = i18n.catalogue_path
    monkeypatch.setattr(i18n, "catalogue_path", lambda lang: tmp_path / "de.po" if lang == "de" else real(lang))
    i18n.catalogue.cache_clear()
    try:
        assert i18n.translate("de", "stream.reward", reward="X") == "You earned X"
        assert i18n.translate("de", "stream.reconnected") == "You are back online"
        assert i18n.translate("de", "stream.draw_won", prize="X") == "Du hast bei der Verlosung X gewonnen!"
    finally:
        i18n.catalogue.cache_clear()
    with pytest.raises(KeyError):
        i18n.translate("de", "stream.no_such_message")


def test_unknown_languages_read_english_and_locale_tags_their_language():
    assert i18n.translate("xx-YY", "stream.friend_joined", name="Ana") == "Ana joined the live with your invite"
    assert i18n.translate(None, "stream.rank", rank=2) == "You are now number 2 on the leaderboard"
    assert i18n.translate("ar-SA", "stream.friend_joined", name="ليلى") == "انضم ليلى إلى البث المباشر عبر دعوتك"
    assert i18n.translate("zh-Hans-MY", "stream.friend_unknown") == "一位好友"
    assert i18n.translate("tl", "stream.friend_unknown") == "Isang kaibigan"


def test_plural_messages_follow_each_languages_rules():
    assert [i18n.translate("en", "reward.points", count=n) for n in (1, 2)] == ["1 point", "2 points"]
    assert [i18n.translate("fr", "reward.points", count=n) for n in (0, 1, 2)] == ["0 point", "1 point", "2 points"]
    assert [i18n.translate("ar", "reward.points", count=n) for n in (1, 2, 3, 11, 100)] == [
        "نقطة واحدة", "نقطتان", "3 نقاط", "11 نقطة", "100 نقطة"]
    assert i18n.translate("de", "reward.points", count=1500) == "1.500 Punkte"
    with pytest.raises(TypeError):
        i18n.translate("en", "reward.points")


# --- choosing a language --------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "lang", "locale"), [
    ("fr-CA,fr;q=0.9,en;q=0.5", "fr", "fr_CA"),
    ("de;q=0.2, ar-SA;q=0.8", "ar", "ar_SA"),
    ("ja, tl;q=0.5", "fil", "fil_PH"),
    ("zh-TW", "zh", "zh_Hant_TW"),
    ("id-ID,id;q=0.9", "id", "id_ID"),
    ("", "en", "en"),
    ("*", "en", "en"),
    ("vi;q=0, th", "th", "th"),
    ("es;q=abc, ms", "ms", "ms"),
])
def test_negotiation_honours_quality_values_and_falls_back_to_english(header, lang, locale):
    choice = i18n.negotiate(header)
    assert (choice.lang, str(choice.locale)) == (lang, locale)


# --- formatting -------------------------------------------------------------------------------------


WINTER = int(datetime(2027, 3, 1, 13, 0, tzinfo=UTC).timestamp() * 1000)
SUMMER = datetime(2027, 7, 1, 13, 0, tzinfo=UTC)


def test_instants_are_shown_in_the_given_zone_and_locale():
    assert fmt.instant(WINTER, "America/New_York", "en-US") == "Mon, Mar 1, 2027, 8:00\u202fAM EST"
    assert fmt.instant(SUMMER, "America/New_York", "en-US") == "Thu, Jul 1, 2027, 9:00\u202fAM EDT"
    assert fmt.instant(WINTER, "Asia/Jakarta", "id") == "Sen, 1 Mar 2027 20.00 WIB"
    assert fmt.instant(WINTER, "Europe/Berlin", "de-DE") == "Mo., 1. März 2027, 14:00 MEZ"
    arabic = fmt.instant(WINTER, "Asia/Riyadh", "ar-SA")
    assert "مارس" in arabic and "4:00" in arabic
    assert "+03" not in arabic  # a zone without a short name gets its long name
    assert fmt.day(WINTER, "Asia/Tokyo", "en") == "Mon, Mar 1, 2027"


def test_money_numbers_and_percentages_follow_the_locale():
    assert fmt.money("25000", "IDR", "id") == "Rp25.000"
    assert fmt.money("5", "USD", "en-US") == "$5"
    assert fmt.money("4.5", "USD", "en-US") == "$4.50"
    assert fmt.money("4.5", "EUR", "de-DE") == "4,50\xa0€"
    assert fmt.money("1250.75", "EUR", "fr-FR") == "1\u202f250,75\xa0€"
    assert fmt.number(1234567, "de") == "1.234.567"
    assert fmt.percent("20", "fr") == "20\xa0%"


def test_rewards_in_words():
    assert fmt.reward({"kind": "coupon", "amount": "5", "currency": "USD"}, "en-US") == "a $5 coupon"
    assert fmt.reward({"kind": "coupon", "percent_off": "15"}, "id") == "kupon diskon 15%"
    assert fmt.reward({"kind": "cashback", "amount": "2.5", "currency": "EUR"}, "de") == "2,50\xa0€ Cashback"
    assert fmt.reward({"kind": "points", "points": 1}, "es") == "1 punto"
    assert fmt.reward({"kind": "badge", "name": "Room host"}, "fr") == "le badge « Room host »"
    assert fmt.reward({"kind": "free_item", "sku": "X"}, "ar") == "هدية مجانية"
    reward = fmt.reward({"kind": "coupon", "amount": "10", "currency": "SAR"}, "ar-SA")
    assert i18n.translate("ar-SA", "stream.reward", reward=reward).startswith("حصلت على قسيمة بقيمة")


# --- share-link pages -------------------------------------------------------------------------------


CAMPAIGN = {"title": "Flash <Sale> & more", "starts_at": "2027-03-01T13:00:00Z", "timezone": "Asia/Jakarta"}


@pytest.mark.parametrize("lang", sorted(SPEC_LANGS))
def test_the_not_found_page_speaks_every_language(lang):
    page = not_found_page(lang).decode()
    assert f'lang="{lang}"' in page
    assert html.escape(i18n.translate(lang, "share.not_found.title")) in page
    assert ('dir="rtl"' in page) == (lang == "ar")


LANDING = "https://shop.example.com/live?src=wa&ll_ref=abc"


def test_the_preview_card_is_localized_and_escaped():
    german = preview_page(CAMPAIGN, "https://l.example/s/abc", LANDING, "de-DE,de;q=0.9").decode()
    assert 'lang="de" dir="ltr"' in german
    assert "Live am Mo., 1. März 2027, 14:00" not in german  # the campaign's zone, not Berlin's
    assert "Live am Mo., 1. März 2027, 20:00" in german
    assert 'og:title" content="Flash &lt;Sale&gt; &amp; more"' in german
    assert 'og:locale" content="de_DE"' in german
    assert '<a href="https://shop.example.com/live?src=wa&amp;ll_ref=abc">Zum Live</a>' in german
    arabic = preview_page(CAMPAIGN, "https://l.example/s/abc", LANDING, "ar").decode()
    assert 'lang="ar" dir="rtl"' in arabic and "بث مباشر في" in arabic and "دعاك صديق" in arabic
    english = preview_page(CAMPAIGN, "https://l.example/s/abc", LANDING, "ja").decode()
    assert "Live on Mon, Mar 1, 2027, 8:00\u202fPM Western Indonesia Time" in english
    assert ">Go to the live</a>" in english
