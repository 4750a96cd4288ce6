"""The console's catalogues: every message in English, Chinese and Arabic, with the same placeholders."""

from __future__ import annotations

import string

from liveloop.console import texts


def placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_every_console_message_is_translated_with_the_same_placeholders():
    english = texts.messages("en")
    assert len(english) > 50
    for lang in texts.CONSOLE_LANGS:
        own = texts.messages(lang)
        assert set(own) == set(english), lang
        for msgid, text in own.items():
            assert placeholders(text) == placeholders(english[msgid]), (lang, msgid)
            if lang != "en" and msgid != "console.name":
                assert text != english[msgid], (lang, msgid)  # translated, not copied


def test_the_language_is_the_cookie_s_else_the_browser_s_else_english():
    assert texts.pick("ar", "zh-CN,zh;q=0.9") == "ar"
    assert texts.pick(None, "zh-TW,en;q=0.5") == "zh"
    assert texts.pick("xx", "ar-SA") == "ar"
    assert texts.pick(None, "de-DE,fr;q=0.8") == "en"  # the console does not speak German yet
    assert texts.is_rtl("ar") and not texts.is_rtl("zh")
    assert texts.gettext("zh", "campaigns.created", id="spring") == "活动 spring 已创建。"
