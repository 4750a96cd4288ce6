"""Market policy over the real HTTP API: refused and accepted campaigns, warnings, masked leaderboards, pages."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import before_start, campaign, event, invite, post_ok, send


def draw(**overrides) -> dict:
    rule = {"id": "lucky", "type": "draw", "entry": {"metric": "joins", "at_least": 3}, "winners": 1,
            "prize": {"kind": "free_item", "sku": "SKU-1"}}
    rule.update(overrides)
    return rule


def refused(client, body: dict) -> dict:
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 422, response.text
    return response.json()["error"]


@pytest.mark.parametrize(("market", "rules", "code", "field", "hint", "source"), [
    ("VN", [draw()], "policy.permit_required", "rules.0.permit", '"permit"', "VN Decree 81/2018"),
    ("ID", [{"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "points", "points": 5}},
            {"id": "rr2", "type": "milestone", "metric": "joins",
             "tiers": [{"at": 1, "reward": {"kind": "badge", "name": "B"}}]}, draw()],
     "policy.permit_required", "rules.2.permit", '"permit"', "ID Ministry of Social Affairs"),
    ("AE", [draw(free_entry=True)], "policy.permit_required", "rules.0.permit", '"permit"', "AE Dubai"),
    ("SA", [draw(permit="MC-1", entry={"metric": "orders", "at_least": 1})], "policy.purchase_linked_draw",
     "rules.0.entry", "reservations or joins", "SA Ministry of Commerce"),
    ("MY", [draw(permit="KPDN-1", entry={"metric": "gmv", "at_least": 100})], "policy.purchase_linked_draw",
     "rules.0.entry", "reservations or joins", "MY Common Gaming Houses Act 1953"),
    ("DE", [draw()], "policy.free_entry_required", "rules.0.free_entry", '"free_entry": true', "DE GlüStV"),
    ("GB", [draw()], "policy.free_entry_required", "rules.0.free_entry", '"free_entry": true', "UK Gambling Act"),
    ("US", [draw(entry={"event": "share"})], "policy.sharing_required", "rules.0.entry", '"free_entry": true',
     "US FTC"),
    ("CA", [draw(entry={"event": "share"})], "policy.sharing_required", "rules.0.entry", '"free_entry": true',
     "CA Competition Act"),
    ("VN", [draw(permit="SCT-1", prize={"kind": "coupon", "percent_off": "70"})], "policy.promo_value_limit",
     "rules.0.prize.percent_off", "50 or less", "VN Decree 81/2018/ND-CP Art. 6"),
])
def test_a_campaign_breaking_its_markets_policy_is_refused_with_what_to_change(
        client, cid, market, rules, code, field, hint, source):
    error = refused(client, campaign(cid, market=market, rules=rules))
    assert (error["code"], error["field"]) == (code, field)
    assert hint in error["message"] and source in error["message"] and error["source"].startswith(source)
    assert client.get(f"/v1/campaigns/{cid}").status_code == 404  # nothing was stored


@pytest.mark.parametrize(("market", "rules"), [
    ("VN", [draw(permit="SCT-HCM-2027/15", prize={"kind": "coupon", "percent_off": "50"})]),
    ("ID", [draw(permit="KEMENSOS-123/2027", entry={"metric": "orders", "at_least": 1})]),
    ("SA", [draw(permit="MC-2027-88", entry={"event": "share"})]),
    ("MY", [draw(permit="KPDN-1", entry={"metric": "joins", "at_least": 3})]),
    ("DE", [draw(free_entry=True)]),
    ("US", [draw(entry={"event": "share"}, free_entry=True)]),
    ("TH", [draw(entry={"metric": "orders", "at_least": 1})]),
])
def test_a_lawful_campaign_is_created(client, cid, market, rules):
    created = post_ok(client, "/v1/campaigns", campaign(cid, market=market, rules=rules))
    assert created["warnings"] == []
    assert client.get(f"/v1/campaigns/{cid}").json()["rules"][0]["id"] == "lucky"


def test_taboo_words_in_arabic_refuse_a_saudi_campaign_naming_the_words(client, cid):
    error = refused(client, campaign(cid, market="SA", title="ليالي رمضان",
                                     share_text="تعال العب معنا البوكر واربح"))
    assert (error["code"], error["field"], error["words"]) == ("policy.content", "share_text", ["البوكر"])
    assert "«البوكر»" in error["message"] and "SA GCAM" in error["message"]


def test_english_taboo_words_refuse_a_saudi_campaign(client, cid):
    error = refused(client, campaign(cid, market="SA", title="Bacon & wine Friday"))
    assert (error["code"], error["field"], error["words"]) == ("policy.content", "title", ["Bacon", "wine"])


def test_words_a_market_only_warns_about_are_returned_with_the_created_campaign(client, cid):
    created = post_ok(client, "/v1/campaigns", campaign(
        cid, market="AE", title="Iftar tasting live", description="Non-alcoholic wine pairing for the family"))
    [warning] = created["warnings"]
    assert (warning["code"], warning["field"], warning["words"]) == ("policy.content", "description", ["wine"])
    assert warning["message"] and warning["source"].startswith("AE Federal Decree-Law 55/2023")
    assert client.get(f"/v1/campaigns/{cid}").json()["warnings"] == created["warnings"]


def test_the_same_words_are_accepted_silently_where_the_market_has_no_lexicon(client, cid):
    created = post_ok(client, "/v1/campaigns", campaign(cid, market="FR", title="Wine & cheese live",
                                                        description="Champagne!", share_text="Casino royale night"))
    assert created["warnings"] == []
    assert (created["description"], created["share_text"]) == ("Champagne!", "Casino royale night")


def test_description_and_share_text_are_bounded(client, cid):
    response = client.post("/v1/campaigns", json=campaign(cid, description="x" * 2001))
    assert response.status_code == 422 and response.json()["error"]["field"] == "description"


def _board_with_three_referrers(client, cid: str, market: str) -> dict:
    post_ok(client, "/v1/campaigns", campaign(cid, market=market, leaderboard={"metric": "reservations"}))
    people = {"siti": ("Siti K.", {"leaderboard_public": True}), "jon": ("Jon Doe", {}),
              "ana": ("Ana", {"leaderboard_public": False})}
    codes = {}
    for user, (name, consents) in people.items():
        uid = f"{cid}-{user}"
        answer = client.put(f"/v1/users/{uid}", json={"market": market, "display_name": name, "consents": consents})
        assert answer.status_code in (200, 201), answer.text
        codes[user] = invite(client, cid, uid)
    send(client, [
        event("r1", "reservation", cid, f"{cid}-f1", before_start(50), ref=codes["siti"]),
        event("r2", "reservation", cid, f"{cid}-f2", before_start(40), ref=codes["jon"]),
        event("r3", "reservation", cid, f"{cid}-f3", before_start(30), ref=codes["ana"]),
    ])
    board = client.get(f"/v1/campaigns/{cid}/leaderboard").json()
    return {e["user_id"].removeprefix(f"{cid}-"): (e["display_name"], e["masked"]) for e in board["entries"]}


@pytest.mark.parametrize("market", ["DE", "GB", "US"])
def test_public_leaderboards_mask_names_without_consent_in_eu_gb_and_na(client, cid, market):
    assert _board_with_three_referrers(client, cid, market) == {
        "siti": ("Siti K.", False), "jon": ("J***", True), "ana": ("A***", True)}


def test_leaderboards_show_names_where_the_market_does_not_mask(client, cid):
    assert _board_with_three_referrers(client, cid, "ID") == {
        "siti": ("Siti K.", False), "jon": ("Jon Doe", False), "ana": ("Ana", False)}


def test_share_pages_are_localized_and_arabic_is_right_to_left(server, client, cid):
    post_ok(client, "/v1/campaigns", campaign(cid, market="AE", title="أمسية العود", rules=[]))
    code = invite(client, cid, f"{cid}-layla")
    with server.client(None) as anon:
        card = anon.get(f"/s/{code}", headers={"user-agent": "WhatsApp/2.24", "accept-language": "ar-AE,ar;q=0.9"})
        assert card.status_code == 200
        assert 'lang="ar" dir="rtl"' in card.text and "بث مباشر في" in card.text and "أمسية العود" in card.text
        thai = anon.get("/s/nope-nope", headers={"accept-language": "th-TH"})
        assert thai.status_code == 404 and "ไม่พบลิงก์คำเชิญนี้" in thai.text
        fallback = anon.get("/s/nope-nope", headers={"accept-language": "ja-JP"})
        assert 'lang="en"' in fallback.text and "This invite link does not exist" in fallback.text
