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


def test_every_fraud_signal_detail_reads_back_and_is_said_in_each_language():
    from liveloop.console.review_pages import _signal_texts
    from liveloop.fraud.signals import DETAILS, WEIGHTS, TenantSignals, explain

    samples = {"device": "phone 7 was used by both", "users": "4", "address": "2001:db8::1", "domain": "mailinator.com",
               "count": "12", "user": "نور"}
    for key, template in DETAILS.items():
        values = {name: samples[name] for name in placeholders(template)}
        assert explain(template.format_map(values)) == (key, values), key
    # The details the checks write are the table's.
    signals = TenantSignals()
    for user in ("host", "a", "b"):
        signals.observe(user, "dev-1", "203.0.113.9", 0)
    found = signals.assess(campaign_id="c", referee="b", referrer="host", at=0, velocity_per_minute=10)
    assert [explain(s.detail)[0] for s in found] == ["same_device", "device_farm", "same_ip"]
    for s in found:
        english = _signal_texts({"code": s.code, "detail": s.detail}, "en")
        assert english["translated"] and english["name"] == texts.gettext("en", f"signal.{s.code}")
        arabic = _signal_texts({"code": s.code, "detail": s.detail}, "ar")
        assert arabic["name"] != english["name"] and arabic["text"] != english["text"]
    farm = _signal_texts({"code": "device_farm", "detail": found[1].detail}, "ar")["text"]
    assert "\u2068dev-1\u2069" in farm and "\u20683\u2069" in farm  # the id and the count keep their direction
    assert set(WEIGHTS) <= {msgid.removeprefix("signal.") for msgid in texts.messages("en")}
    older = _signal_texts({"code": "ring", "detail": "worded otherwise"}, "ar")
    assert older["text"] == "worded otherwise" and not older["translated"]
