"""Market policy over the real HTTP API: refused and accepted campaigns, warnings, masked leaderboards, pages."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import before_start, campaign, event, invite, post_ok, send
from tests.e2e.test_room_stream import Room


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
    ("TH", [draw()], "policy.permit_required", "rules.0.permit", "Department of Provincial Administration",
     "TH Gambling Act B.E. 2478 s.8"),
    ("VN", [draw()], "policy.permit_required", "rules.0.permit", "provincial Department of Industry and Trade",
     "VN Decree 81/2018/ND-CP as amended by Decree 128/2024/ND-CP"),
    ("ID", [{"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "points", "points": 5}},
            {"id": "rr2", "type": "milestone", "metric": "joins",
             "tiers": [{"at": 1, "reward": {"kind": "badge", "name": "B"}}]}, draw()],
     "policy.permit_required", "rules.2.permit", '"permit"', "ID Law 22/1954"),
    ("AE", [draw(free_entry=True)], "policy.permit_required", "rules.0.permit", "Department of Economy and Tourism",
     "AE Federal Law No. 15/2020"),
    ("EG", [draw()], "policy.permit_required", "rules.0.permit", "at least 3 days before the draw is advertised",
     "EG Consumer Protection Law 181/2018 Art. 14"),
    ("IT", [draw(free_entry=True)], "policy.permit_required", "rules.0.permit", "at least 15 days before",
     "IT DPR 430/2001"),
    ("US", [draw(free_entry=True, winners=2, prize={"kind": "cashback", "amount": "2500.01"})],
     "policy.permit_required", "rules.0.permit", "USD 5000.02 in all", "US New York GBL 369-e"),
    ("PH", [{"id": "rr", "type": "reservation_referral", "referrer_reward": {"kind": "coupon", "percent_off": "10"}}],
     "policy.promo_permit_required", "permit", "DTI", "PH Consumer Act RA 7394 Art. 116"),
    ("SA", [draw(permit="MC-1", entry={"metric": "orders", "at_least": 1})], "policy.purchase_linked_draw",
     "rules.0.entry", "reservations or joins", "SA Anti-Commercial Fraud Law"),
    ("MY", [draw(entry={"metric": "gmv", "at_least": 100})], "policy.purchase_linked_draw",
     "rules.0.entry", "reservations or joins", "MY Common Gaming Houses Act 1953 s.4(1)(h)"),
    ("DE", [draw()], "policy.free_entry_required", "rules.0.free_entry", '"waive"', "liveloop recommendation"),
    ("GB", [draw()], "policy.free_entry_required", "rules.0.free_entry", '"free_entry": true',
     "liveloop recommendation"),
    ("US", [draw(entry={"event": "share"})], "policy.sharing_required", "rules.0.entry", '"free_entry": true',
     "liveloop recommendation"),
    ("CA", [draw()], "policy.free_entry_required", "rules.0.free_entry", "no purchase necessary",
     "CA Criminal Code s.206"),
    ("VN", [draw(permit="SCT-1", prize={"kind": "coupon", "percent_off": "70"})], "policy.promo_value_limit",
     "rules.0.prize.percent_off", "50 or less", "VN Decree 81/2018/ND-CP Art. 7(2)"),
])
def test_a_campaign_breaking_its_markets_policy_is_refused_with_what_to_change(
        client, cid, market, rules, code, field, hint, source):
    error = refused(client, campaign(cid, market=market, rules=rules))
    assert (error["code"], error["field"]) == (code, field)
    assert hint in error["message"] and source in error["message"] and error["source"].startswith(source)
    assert error["basis"] == ("default" if source.startswith("liveloop") else "law")
    assert error["details"][0] == {"code": code, "field": field, "message": error["message"],
                                   "basis": error["basis"], "source": error["source"]}
    assert client.get(f"/v1/campaigns/{cid}").status_code == 404  # nothing was stored


@pytest.mark.parametrize(("market", "rules"), [
    ("VN", [draw(permit="SCT-HCM-2027/15", prize={"kind": "coupon", "percent_off": "50"})]),
    ("ID", [draw(permit="KEMENSOS-123/2027", entry={"metric": "orders", "at_least": 1})]),
    ("SA", [draw(permit="MC-2027-88", entry={"event": "share"})]),
    ("MY", [draw(entry={"metric": "joins", "at_least": 3})]),
    ("DE", [draw(free_entry=True)]),
    ("US", [draw(entry={"event": "share"}, free_entry=True, prize={"kind": "cashback", "amount": "5000"})]),
    ("TH", [draw(permit="DOPA-2027-001", entry={"metric": "orders", "at_least": 1})]),
    ("EG", [draw(permit="CPA-2027-314")]),
])
def test_a_lawful_campaign_is_created(client, cid, market, rules):
    created = post_ok(client, "/v1/campaigns", campaign(cid, market=market, rules=rules))
    assert created["warnings"] == [] and "waived" not in created
    assert client.get(f"/v1/campaigns/{cid}").json()["rules"][0]["id"] == "lucky"


def test_a_refusal_lists_every_rule_broken_not_only_the_first(client, cid):
    # (an hourly draw would be refused before policy: its window may span at most 31 days)
    rules = [draw(id="a", entry={"metric": "orders", "at_least": 1}), draw(id="b")]
    error = refused(client, campaign(cid, market="SA", title="Casino night", rules=rules,
                                     starts_at="2027-01-01T00:00:00Z", ends_at="2027-03-15T00:00:00Z"))
    assert (error["code"], error["field"]) == ("policy.content", "title")  # the first, for older clients
    assert [(d["code"], d["field"], d["basis"]) for d in error["details"]] == [
        ("policy.content", "title", "law"),
        ("policy.permit_required", "rules.0.permit", "law"),
        ("policy.purchase_linked_draw", "rules.0.entry", "law"),
        ("policy.draw_period_limit", "rules.0.period", "law"),
        ("policy.permit_required", "rules.1.permit", "law"),
        ("policy.draw_period_limit", "rules.1.period", "law"),
    ]
    assert all(d["source"] in d["message"] for d in error["details"])
    assert error["details"][0]["words"] == ["Casino"]


def test_a_waived_default_is_recorded_and_shown_with_the_campaign(client, cid):
    """A draw tied to a purchase at the normal price is lawful in Germany (CJEU C-304/08): the merchant may
    go without liveloop's free-entry default, and the campaign says so."""
    body = campaign(cid, market="DE", rules=[draw(entry={"metric": "orders", "at_least": 1})],
                    waive=["policy.free_entry_required"])
    created = post_ok(client, "/v1/campaigns", body)
    shown = client.get(f"/v1/campaigns/{cid}").json()
    for answer in (created, shown):
        assert answer["waive"] == ["policy.free_entry_required"]
        [waived] = answer["waived"]
        assert (waived["code"], waived["field"], waived["basis"]) == (
            "policy.free_entry_required", "rules.0.free_entry", "default")
        assert waived["source"].startswith("liveloop recommendation")
    entry = client.post(f"/v1/campaigns/{cid}/draws/lucky/entries", json={"user_id": f"{cid}-u"})
    assert entry.status_code == 409 and entry.json()["error"]["code"] == "draw.no_free_entry"


def test_a_waiver_of_a_law_is_refused(client, cid):
    body = campaign(cid, market="US", rules=[draw(entry={"event": "share"})],
                    waive=["policy.sharing_required", "policy.free_entry_required"])
    error = refused(client, body)
    assert [(d["code"], d["field"], d["basis"]) for d in error["details"]] == [
        ("policy.free_entry_required", "rules.0.free_entry", "law"),
        ("policy.waiver_refused", "waive.1", "law"),
    ]
    assert "cannot be waived" in error["details"][1]["message"]
    unknown = client.post("/v1/campaigns", json=campaign(cid, market="DE", waive=["policy.anything"]))
    assert unknown.status_code == 422 and unknown.json()["error"]["field"].startswith("waive")


def test_prizes_in_another_currency_are_valued_with_the_tenants_rate(client, cid):
    rules = [draw(free_entry=True, prize={"kind": "cashback", "amount": "9000"})]
    unvalued = post_ok(client, "/v1/campaigns", campaign(f"{cid}-a", market="US", currency="NZD", rules=rules))
    [warning] = unvalued["warnings"]
    assert warning["code"] == "policy.prize_value_unknown" and "no NZD to USD rate" in warning["message"]
    rates = client.put("/v1/fx-rates", json={"rates": [
        {"from": "NZD", "to": "USD", "rate": "0.60", "valid_from": "2020-01-01"}]})
    assert rates.status_code == 200, rates.text
    error = refused(client, campaign(f"{cid}-b", market="US", currency="NZD", rules=rules))
    assert error["code"] == "policy.permit_required" and "USD 5400.00 in all" in error["message"]
    permitted = [{**rules[0], "permit": "NY-369e-2027-12"}]
    assert post_ok(client, "/v1/campaigns", campaign(f"{cid}-c", market="US", currency="NZD",
                                                     rules=permitted))["warnings"] == []


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


def _board_with_three_referrers(client, cid: str, market: str, **fields) -> dict:
    post_ok(client, "/v1/campaigns", campaign(cid, market=market, leaderboard={"metric": "reservations"}, **fields))
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


def test_a_campaign_that_waives_masking_shows_every_name_on_the_board_and_in_the_room(
        server, api_key, client, cid):
    assert _board_with_three_referrers(client, cid, "DE", waive=["policy.leaderboard_masking"]) == {
        "siti": ("Siti K.", False), "jon": ("Jon Doe", False), "ana": ("Ana", False)}
    with Room(server, api_key=api_key, cid=cid) as room:
        top = room.next()["top"]
    assert {(e["display_name"], e["masked"]) for e in top} == {("Siti K.", False), ("Jon Doe", False),
                                                              ("Ana", False)}


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
