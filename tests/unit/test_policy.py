"""Market policy at campaign creation (SPEC section 6): each rule per market, its basis and source, waivers."""

from __future__ import annotations

import copy
import dataclasses
import json
from importlib import resources

import pytest

from liveloop.campaigns import service
from liveloop.campaigns.schemas import CampaignCreate
from liveloop.markets import policy
from liveloop.markets.catalogue import CatalogueError, get_market, load_catalogue, parse_catalogue
from liveloop.markets.policy import ERROR, WAIVED, WARNING, PolicyViolation, check, leaderboard_name

EUROPE = ("DE", "FR", "ES", "IT", "NL", "GB")
PRIVACY_FIRST = (*EUROPE, "US", "CA")


def draw(**overrides) -> dict:
    rule = {"id": "lucky", "type": "draw", "entry": {"metric": "joins", "at_least": 3}, "winners": 1,
            "prize": {"kind": "free_item", "sku": "SKU-1"}}
    rule.update(overrides)
    return rule


def campaign(market: str, *rules: dict, **fields) -> dict:
    body = {"id": "c1", "title": "Spring live", "market": market, "starts_at": "2027-03-01T12:00:00Z",
            "ends_at": "2027-03-01T14:00:00Z", "landing_url": "https://shop.example.com/live", "rules": list(rules)}
    body.update(fields)
    return body


def findings(body: dict, **kwargs) -> list[policy.Finding]:
    return check(body, get_market(body["market"]), **kwargs)


def codes(body: dict, severity: str = ERROR, **kwargs) -> list[tuple[str, str]]:
    return [(f.code, f.field) for f in findings(body, **kwargs) if f.severity == severity]


def only(body: dict, code: str, **kwargs) -> policy.Finding:
    [finding] = [f for f in findings(body, **kwargs) if f.code == code]
    return finding


def referral(reward: dict) -> dict:
    return {"id": "rr", "type": "reservation_referral", "referrer_reward": reward}


# --- permits: who grants them, and what liveloop can check ---------------------------------------


@pytest.mark.parametrize(("market", "authority", "source"), [
    ("TH", "a licence from the Department of Provincial Administration (Ministry of Interior)",
     "TH Gambling Act B.E. 2478 s.8"),
    ("VN", "a registration with the provincial Department of Industry and Trade (with the Ministry of Industry and "
           "Trade for a draw in several provinces)", "Decree 81/2018/ND-CP as amended by Decree 128/2024/ND-CP"),
    ("ID", "a permit from the Ministry of Social Affairs", "Permensos) 4/2021 on free prize draws"),
    ("PH", "a sales promotion permit from the DTI (from the FDA for food and drug promotions)",
     "PH Consumer Act RA 7394 Art. 116"),
    ("SA", "a licence from the Ministry of Commerce", "SA Ministry of Commerce licence for commercial competitions"),
    ("AE", "a permit from the emirate's authority (the Department of Economy and Tourism in Dubai)",
     "AE Federal Law No. 15/2020 on consumer protection (amended by Federal Decree-Law No. 5/2023) and Cabinet "
     "Decision 66/2023"),
    ("EG", "a notification to the Consumer Protection Agency at least 3 days before the draw is advertised (its "
           "notification number is the permit)", "EG Consumer Protection Law 181/2018 Art. 14"),
    ("IT", "a filing with the Ministry of Enterprises and Made in Italy at least 15 days before the draw opens, with "
           "a guarantee deposit and a notary at the draw", "IT DPR 430/2001"),
])
def test_a_lucky_draw_without_a_permit_is_refused_naming_who_grants_it(market, authority, source):
    body = campaign(market, {"id": "badge", "type": "milestone", "metric": "joins",
                             "tiers": [{"at": 1, "reward": {"kind": "badge", "name": "B"}}]}, draw(free_entry=True))
    finding = only(body, "policy.permit_required")
    assert (finding.severity, finding.field, finding.basis) == (ERROR, "rules.1.permit", "law")
    assert f"need {authority}:" in finding.message and '"permit"' in finding.message
    # What liveloop cannot check (a date, a deposit, the permit itself) is said, not pretended.
    assert "liveloop checks that a reference is given, not the permit itself" in finding.message
    assert finding.source.startswith(source) or source in finding.source
    assert finding.source in get_market(market).policy.sources
    assert finding.message.endswith(f"Source: {finding.source}.")


@pytest.mark.parametrize("market", ["TH", "VN", "ID", "PH", "SA", "AE", "EG", "IT"])
def test_a_lucky_draw_with_a_permit_is_accepted(market):
    assert codes(campaign(market, draw(permit="PERMIT-2027/001", free_entry=True))) == []


def test_a_blank_permit_is_no_permit():
    assert codes(campaign("TH", draw(permit="   "))) == [("policy.permit_required", "rules.0.permit")]


def test_thailand_now_asks_for_the_licence_it_did_not_ask_for():
    assert get_market("TH").policy.draw_permit_required
    assert codes(campaign("TH", draw(entry={"metric": "orders", "at_least": 1}))) == [
        ("policy.permit_required", "rules.0.permit")]


@pytest.mark.parametrize("market", ["MY", "SG", *[m for m in PRIVACY_FIRST if m != "IT"]])
def test_markets_without_a_permit_route_or_rule_accept_draws_without_one(market):
    assert codes(campaign(market, draw(free_entry=True))) == []


def test_malaysia_has_no_permit_route_for_commercial_draws():
    p = get_market("MY").policy
    assert not p.draw_permit_required and p.permit_authority is None
    assert "no permit route" in p.cite("purchase_linked_draw_forbidden").source


# --- US: a permit once a draw's prizes total more than USD 5,000 -----------------------------------


def cash(amount: str) -> dict:
    return {"kind": "cashback", "amount": amount}


def test_a_us_draw_up_to_5000_dollars_needs_no_permit():
    body = campaign("US", draw(free_entry=True, winners=2, prize=cash("2500.00")))
    assert findings(body) == []


def test_a_us_draw_over_5000_dollars_needs_the_new_york_and_florida_registration():
    body = campaign("US", draw(free_entry=True, winners=1, prize=cash("5000.01")))
    finding = only(body, "policy.permit_required")
    assert (finding.severity, finding.field, finding.basis) == (ERROR, "rules.0.permit", "law")
    assert "USD 5000.01 in all" in finding.message and "more than USD 5000" in finding.message
    assert "New York" in finding.message and "at least 30 days before" in finding.message
    assert "GBL 369-e" in finding.source and "849.094" in finding.source
    assert codes(campaign("US", draw(free_entry=True, prize=cash("5000.01"), permit="NY-2027-0042"))) == []


def test_an_hourly_us_draw_counts_the_prizes_of_every_period():
    body = campaign("US", draw(free_entry=True, period="hour", winners=3, prize=cash("1000")))  # 2 hours
    finding = only(body, "policy.permit_required")
    assert "USD 6000.00 in all (3 winner(s) x USD 1000.00 x 2 period(s))" in finding.message


def test_a_us_prize_in_another_currency_is_valued_with_the_tenants_rate():
    body = campaign("US", draw(free_entry=True, prize=cash("6000")), currency="CAD")
    rates = {("CAD", "USD"): 0.75}

    def convert(minor: int, base: str, quote: str, at: int) -> int | None:
        rate = rates.get((base, quote))
        return None if rate is None else round(minor * rate)

    assert findings(body, convert=convert) == []  # USD 4500
    rates[("CAD", "USD")] = 0.9  # USD 5400
    assert codes(body, convert=convert) == [("policy.permit_required", "rules.0.permit")]
    rates.clear()
    unknown = only(body, "policy.prize_value_unknown", convert=convert)
    assert unknown.severity == WARNING and "no CAD to USD rate" in unknown.message


def test_a_us_prize_without_an_amount_cannot_be_valued_and_warns_unless_permitted():
    body = campaign("US", draw(free_entry=True))
    warning = only(body, "policy.prize_value_unknown")
    assert (warning.severity, warning.field, warning.basis) == (WARNING, "rules.0.prize", "law")
    assert "a free_item prize has no amount" in warning.message and "USD 5000" in warning.message
    assert findings(campaign("US", draw(free_entry=True, permit="NY-1"))) == []


# --- purchase-linked draws ------------------------------------------------------------------------


@pytest.mark.parametrize(("market", "source"), [
    ("SA", "SA Anti-Commercial Fraud Law"),
    ("MY", "MY Common Gaming Houses Act 1953 s.4(1)(h) and the Ministry of Finance guidelines on commercial "
           "promotional contests"),
])
@pytest.mark.parametrize("metric", ["orders", "gmv"])
def test_a_draw_entered_by_purchases_is_refused_in_sa_and_my(market, source, metric):
    body = campaign(market, draw(permit="P-1", entry={"metric": metric, "at_least": 1}))
    assert codes(body) == [("policy.purchase_linked_draw", "rules.0.entry")]
    finding = only(body, "policy.purchase_linked_draw")
    assert "purchase" in finding.message and finding.source.startswith(source) and finding.basis == "law"


@pytest.mark.parametrize("market", ["SA", "MY"])
@pytest.mark.parametrize("entry", [{"metric": "joins", "at_least": 3}, {"metric": "reservations", "at_least": 1},
                                   {"event": "share"}])
def test_draws_entered_otherwise_are_accepted_in_sa_and_my(market, entry):
    assert codes(campaign(market, draw(permit="P-1", entry=entry))) == []


@pytest.mark.parametrize("market", EUROPE)
def test_a_draw_tied_to_a_purchase_at_the_normal_price_is_lawful_in_the_eu_and_uk(market):
    """CJEU C-304/08 and UK Gambling Act 2005 Sch. 2 para 2(c): only liveloop's free-entry default stands."""
    body = campaign(market, draw(permit="P-1", entry={"metric": "orders", "at_least": 1}))
    refusal = only(body, "policy.free_entry_required")
    assert refusal.basis == "default" and "not a legal requirement" in refusal.message
    assert '"policy.free_entry_required" to the campaign\'s "waive"' in refusal.message
    waived = findings({**body, "waive": ["policy.free_entry_required"]})
    assert [(f.code, f.severity) for f in waived] == [("policy.free_entry_required", WAIVED)]


# --- free entry and sharing: law in the US and Canada, liveloop's default in Europe -------------------


@pytest.mark.parametrize("market", PRIVACY_FIRST)
def test_every_draw_needs_a_free_entry_unless_the_default_is_waived(market):
    body = campaign(market, draw(permit="P-1"))
    finding = only(body, "policy.free_entry_required")
    assert (finding.severity, finding.field) == (ERROR, "rules.0.free_entry")
    assert '"free_entry": true' in finding.message
    assert finding.basis == ("law" if market in ("US", "CA") else "default")


@pytest.mark.parametrize("market", PRIVACY_FIRST)
def test_a_draw_with_a_free_entry_is_accepted(market):
    assert codes(campaign(market, draw(free_entry=True, permit="P-1"))) == []


@pytest.mark.parametrize("market", PRIVACY_FIRST)
def test_share_to_enter_without_free_entry_breaks_both_rules_listed_in_order(market):
    assert codes(campaign(market, draw(entry={"event": "share"}, permit="P-1"))) == [
        ("policy.sharing_required", "rules.0.entry"), ("policy.free_entry_required", "rules.0.free_entry")]


@pytest.mark.parametrize("market", EUROPE)
def test_share_to_enter_without_free_entry_is_accepted_in_europe_once_both_defaults_are_waived(market):
    body = campaign(market, draw(entry={"event": "share"}, permit="P-1"),
                    waive=["policy.sharing_required", "policy.free_entry_required"])
    assert codes(body) == []
    assert codes(body, WAIVED) == [("policy.sharing_required", "rules.0.entry"),
                                   ("policy.free_entry_required", "rules.0.free_entry")]


@pytest.mark.parametrize("market", ["US", "CA"])
def test_waiving_the_free_entry_law_of_north_america_is_refused(market):
    body = campaign(market, draw(entry={"event": "share"}), waive=["policy.sharing_required",
                                                                  "policy.free_entry_required"])
    assert codes(body) == [("policy.free_entry_required", "rules.0.free_entry"),
                           ("policy.waiver_refused", "waive.1")]
    assert codes(body, WAIVED) == [("policy.sharing_required", "rules.0.entry")]
    refused = only(body, "policy.waiver_refused")
    assert refused.basis == "law" and "cannot be waived" in refused.message
    assert refused.source == get_market(market).policy.cite("free_entry_required").source


@pytest.mark.parametrize("market", ["ID", "TH", "SA"])
def test_share_to_enter_draws_are_welcome_in_sea_and_mena(market):
    assert codes(campaign(market, draw(entry={"event": "share"}, permit="P-1"))) == []


def test_a_waiver_naming_no_rule_of_the_market_changes_nothing():
    body = campaign("ID", draw(permit="P-1"), waive=["policy.free_entry_required"])
    assert findings(body) == []


@pytest.mark.parametrize("market", ["VN", "SA", "MY"])
def test_no_law_of_the_sea_and_mena_markets_can_be_waived(market):
    p = get_market(market).policy
    for rule in p.rules():
        body = campaign(market, waive=[rule.code])
        assert codes(body) == [("policy.waiver_refused", "waive.0")], rule.code


# --- the corrected sources -----------------------------------------------------------------------------


@pytest.mark.parametrize("market", PRIVACY_FIRST)
def test_privacy_first_rules_are_recommendations_citing_no_law(market):
    p = get_market(market).policy
    for code in ("policy.sharing_required", "policy.leaderboard_masking"):
        rule = p.rule(code)
        assert rule.basis == "default" and rule.source.startswith("liveloop recommendation"), code
    assert "Meta" in p.rule("policy.sharing_required").source
    for cited in (rule.source for rule in p.rules()):
        assert not any(law in cited for law in ("GDPR", "FTC Act", "CCPA", "UCPD", "2005/29/EC"))


def test_the_uk_is_its_own_region_and_cites_the_gambling_act_for_great_britain_only():
    gb = get_market("GB")
    assert gb.region == "UK"
    [gambling_act] = [s for s in gb.policy.sources if "Gambling Act 2005" in s]
    assert "Sch. 2 para 2(c)" in gambling_act and "Northern Ireland" in gambling_act
    assert {code for code, m in load_catalogue().items() if m.region == "EU"} == {"DE", "FR", "ES", "IT", "NL"}


@pytest.mark.parametrize("market", ["DE", "FR", "ES", "IT", "NL"])
def test_eu_markets_cite_the_court_that_allowed_purchase_linked_draws(market):
    [cjeu] = [s for s in get_market(market).policy.sources if s.startswith("CJEU C-304/08")]
    assert "2010" in cjeu


def test_france_cites_l121_20():
    sources = " ".join(get_market("FR").policy.sources)
    assert "L121-20" in sources and "L121-36" not in sources


def test_the_uae_cites_federal_law_15_2020_as_amended():
    sources = " ".join(get_market("AE").policy.sources)
    assert "Federal Law No. 15/2020" in sources and "Decree-Law No. 5/2023" in sources
    assert "Cabinet Decision 66/2023" in sources and "Decree-Law 15/2020" not in sources


def test_indonesia_cites_permensos_4_2021_and_the_ite_law_as_amended_in_2024():
    p = get_market("ID").policy
    assert "Permensos) 4/2021" in p.cite("draw_permit_required").source
    assert "as amended by Law 1/2024" in p.cite("content").source


# --- Vietnam: discounts up to half the price, all of it in a state programme ----------------------------


def coupon(percent: str) -> dict:
    return {"kind": "coupon", "percent_off": percent}


@pytest.mark.parametrize(("rule", "field"), [
    (referral(coupon("60")), "rules.0.referrer_reward"),
    ({**referral(coupon("10")), "referee_reward": coupon("50.5")}, "rules.0.referee_reward"),
    ({"id": "m", "type": "milestone", "metric": "joins",
      "tiers": [{"at": 1, "reward": coupon("20")}, {"at": 5, "reward": coupon("70")}]}, "rules.0.tiers.1.reward"),
    (draw(permit="P-1", prize=coupon("100")), "rules.0.prize"),
])
def test_vietnam_refuses_a_discount_worth_more_than_half_the_price(rule, field):
    body = campaign("VN", rule)
    assert codes(body) == [("policy.promo_value_limit", f"{field}.percent_off")]
    finding = only(body, "policy.promo_value_limit")
    assert "lower percent_off to 50 or less" in finding.message and '"promotion_programme"' in finding.message
    assert finding.source.startswith("VN Decree 81/2018/ND-CP Art. 7(2) as amended by Decree 128/2024/ND-CP")


def test_vietnam_allows_up_to_the_whole_price_in_a_state_run_promotion_programme():
    body = campaign("VN", referral(coupon("100")), promotion_programme="National Shopping Season 2027")
    assert codes(body) == []
    assert get_market("VN").to_dict()["policy"]["promo_value_limit"]["programme_percent"] == 100


def test_vietnam_accepts_half_off_and_other_markets_any_percentage():
    rule = {**referral(coupon("50")), "referee_reward": {"kind": "coupon", "amount": "100000"}}
    assert codes(campaign("VN", rule)) == []
    assert codes(campaign("TH", {**rule, "referrer_reward": coupon("90")})) == []


# --- Saudi Arabia: a draw period of at most 60 days --------------------------------------------------


def test_a_saudi_draw_over_more_than_60_days_is_refused():
    body = campaign("SA", draw(permit="MC-1"), starts_at="2027-03-01T00:00:00Z", ends_at="2027-04-30T00:00:01Z")
    finding = only(body, "policy.draw_period_limit")
    assert (finding.field, finding.basis) == ("rules.0.period", "law")
    assert "at most 60 days" in finding.message and finding.source.startswith("SA Ministry of Commerce")


def test_a_saudi_draw_of_exactly_60_days_or_drawn_hourly_is_accepted():
    sixty = {"starts_at": "2027-03-01T00:00:00Z", "ends_at": "2027-04-30T00:00:00Z"}
    assert codes(campaign("SA", draw(permit="MC-1"), **sixty)) == []
    assert codes(campaign("SA", draw(permit="MC-1", period="hour"), starts_at="2027-03-01T00:00:00Z",
                          ends_at="2027-06-01T00:00:00Z")) == []


# --- conditions liveloop cannot check: a warning on each draw -------------------------------------------


def test_a_singapore_draw_needs_no_application_but_is_told_the_class_licence_conditions():
    body = campaign("SG", draw())
    assert codes(body) == []
    warning = only(body, "policy.draw_conditions")
    assert (warning.severity, warning.field, warning.basis) == (WARNING, "rules.0", "law")
    assert "no application" in warning.message and "published before it opens" in warning.message
    assert "in public or under supervision" in warning.message and "within 7 days" in warning.message
    assert "S 660/2022" in warning.source


def test_a_canadian_draw_is_told_about_the_skill_testing_question_and_disclosures():
    warning = only(campaign("CA", draw(free_entry=True)), "policy.draw_conditions")
    assert warning.severity == WARNING and "skill-testing question" in warning.message
    assert warning.source.startswith("CA Competition Act s.74.06")


# --- the Philippines: discounts and premiums need the DTI permit too ------------------------------------


@pytest.mark.parametrize("rule", [referral(coupon("10")), referral(cash("50")),
                                  referral({"kind": "free_item", "sku": "MUG"}),
                                  {"id": "rr", "type": "order_commission", "percent": "5"}])
def test_a_philippine_campaign_with_discounts_or_premiums_needs_the_campaigns_permit(rule):
    body = campaign("PH", rule)
    finding = only(body, "policy.promo_permit_required")
    assert (finding.severity, finding.field, finding.basis) == (ERROR, "permit", "law")
    assert "DTI" in finding.message and "FDA" in finding.message and "'rr'" in finding.message
    assert codes(campaign("PH", rule, permit="DTI-FTEB-2027-0001")) == []


def test_a_philippine_campaign_without_discounts_or_premiums_needs_no_campaign_permit():
    badge = {"id": "m", "type": "milestone", "metric": "joins", "tiers": [{"at": 1, "reward": {"kind": "badge",
                                                                                                 "name": "B"}}]}
    assert codes(campaign("PH", badge, draw(permit="DTI-1"))) == []


# --- every finding, in document order, and the refusal --------------------------------------------------


def test_all_violations_are_returned_in_document_order():
    body = campaign("SA", draw(id="a", entry={"metric": "gmv", "at_least": 1}), draw(id="b"),
                    title="Casino night")
    assert codes(body) == [("policy.content", "title"), ("policy.permit_required", "rules.0.permit"),
                           ("policy.purchase_linked_draw", "rules.0.entry"),
                           ("policy.permit_required", "rules.1.permit")]


def test_enforce_raises_every_error_with_the_first_in_the_error_and_all_in_details():
    body = campaign("MY", draw(entry={"metric": "orders", "at_least": 1}), title="Judi malam ini")
    with pytest.raises(PolicyViolation) as raised:
        policy.enforce(body, get_market("MY"))
    error = raised.value.body()["error"]
    assert raised.value.status == 422
    assert (error["code"], error["field"], error["basis"]) == ("policy.content", "title", "law")
    assert error["words"] == ["Judi"] and error["source"] in error["message"]
    assert [(d["code"], d["field"], d["basis"]) for d in error["details"]] == [
        ("policy.content", "title", "law"), ("policy.purchase_linked_draw", "rules.0.entry", "law")]
    assert all(d["source"] and d["source"] in d["message"] for d in error["details"])
    assert error["details"][0]["message"] == error["message"]


def test_the_policy_is_driven_by_the_market_handed_in():
    """The seam for a tenant's own catalogue: change the Market, not the code."""
    singapore = get_market("SG")
    strict = dataclasses.replace(singapore, policy=dataclasses.replace(
        singapore.policy, draw_permit_required=True, permit_authority="a permit from the tenant's lawyer",
        cites=(*singapore.policy.cites,
               ("draw_permit_required", policy.Cite("law", singapore.policy.sources[1])))))
    body = campaign("SG", draw())
    assert codes(body) == []
    [finding] = [f for f in check(body, strict) if f.severity == ERROR]
    assert (finding.code, finding.source) == ("policy.permit_required", "SG Personal Data Protection Act 2012")


# --- content ------------------------------------------------------------------------------------------


def content_findings(market: str, **texts) -> list[policy.Finding]:
    return [f for f in findings(campaign(market, **texts)) if f.code == "policy.content"]


def test_arabic_words_are_found_with_their_article_and_diacritics_in_saudi_arabia():
    [finding] = content_findings("SA", title="عروض رمضان", description="سهرة مع النَّبيذ ولعب القمار")
    assert (finding.severity, finding.field) == (ERROR, "description")
    assert finding.words == ("النَّبيذ", "القمار")
    assert "alcohol and gambling" in finding.message and "«القمار»" in finding.message
    assert finding.source == "SA GCAM advertising content standards"


def test_english_words_are_found_whole_and_in_any_case():
    [title, share] = content_findings("SA", title="Wine & BACON brunch", share_text="Join our POKER night!")
    assert (title.field, title.words, title.severity) == ("title", ("Wine", "BACON"), ERROR)
    assert (share.field, share.words) == ("share_text", ("POKER",))


@pytest.mark.parametrize("text", ["Swine-flu free? No: Ginger tea, rummage sale, hamburgers, alcohol-free oud",
                                  "Your best bet for Eid gifts", "برهان يقدم عطور العود", "Pork-free kitchen"])
def test_innocent_texts_pass(text):
    assert content_findings("SA", title="Eid live", description=text) == []


def test_uae_refuses_gambling_but_only_warns_about_alcohol_and_pork():
    found = content_findings("AE", title="Casino night", description="Wine and ham tasting")
    assert [(f.severity, f.field, f.words) for f in found] == [
        (ERROR, "title", ("Casino",)), (WARNING, "description", ("Wine", "ham"))]


def test_malay_and_indonesian_gambling_words_are_errors_and_pork_a_warning():
    [my] = content_findings("MY", title="Jom main judi malam ini")
    assert (my.severity, my.words) == (ERROR, ("judi",))
    [id_] = content_findings("ID", title="Promo togel dan slot online")
    assert (id_.severity, id_.words) == (ERROR, ("togel", "slot online"))
    [pork] = content_findings("ID", description="Nasi goreng babi")
    assert (pork.severity, pork.words) == (WARNING, ("babi",))


def test_only_the_markets_languages_are_screened_and_other_markets_not_at_all():
    assert content_findings("AE", title="Main judi") == []  # Malay is not a language of the UAE
    assert content_findings("DE", title="Wine, beer and casino night") == []


def test_a_campaign_with_only_warnings_is_accepted_with_them():
    body = campaign("AE", title="Ramadan nights", description="Wine pairing")
    [warning] = policy.enforce(body, get_market("AE"))
    assert warning.to_dict() == {
        "code": "policy.content", "field": "description", "words": ["Wine"], "message": warning.message,
        "basis": "law", "source": "AE Federal Decree-Law 55/2023 on media regulation (advertising content)"}


# --- normalize (the API path) -----------------------------------------------------------------------


def test_normalize_refuses_with_every_policy_error_and_keeps_warnings_and_waivers():
    refused = CampaignCreate.model_validate(campaign("PH", referral(coupon("5")), draw()))
    with pytest.raises(PolicyViolation) as raised:
        service.normalize(refused, allowed_hosts=())
    assert [f.code for f in raised.value.findings] == ["policy.promo_permit_required", "policy.permit_required"]
    accepted = CampaignCreate.model_validate(campaign("EG", title="Casino-free family live", description="Beer"))
    data = service.normalize(accepted, allowed_hosts=())
    assert [w["words"] for w in data["warnings"]] == [["Beer"]] and "waived" not in data
    waiving = CampaignCreate.model_validate(campaign("DE", draw(), waive=["policy.free_entry_required"]))
    data = service.normalize(waiving, allowed_hosts=())
    assert data["waive"] == ["policy.free_entry_required"]
    assert [(w["code"], w["field"], w["basis"]) for w in data["waived"]] == [
        ("policy.free_entry_required", "rules.0.free_entry", "default")]
    assert data["warnings"] == []


def test_waive_names_known_codes_once():
    with pytest.raises(ValueError, match="waive"):
        CampaignCreate.model_validate(campaign("DE", waive=["policy.free_entry"]))
    with pytest.raises(ValueError, match="waive names each rule once"):
        CampaignCreate.model_validate(campaign("DE", waive=["policy.sharing_required", "policy.sharing_required"]))


def test_description_and_share_text_have_length_limits():
    CampaignCreate.model_validate(campaign("US", description="d" * 2000, share_text="s" * 500))
    with pytest.raises(ValueError, match="description"):
        CampaignCreate.model_validate(campaign("US", description="d" * 2001))
    with pytest.raises(ValueError, match="share_text"):
        CampaignCreate.model_validate(campaign("US", share_text="s" * 501))


# --- the catalogue: every rule has a basis and a source ------------------------------------------------


@pytest.mark.parametrize("code", list(load_catalogue()))
def test_every_rule_in_force_has_a_basis_and_every_law_is_one_of_the_markets_sources(code):
    p = get_market(code).policy
    rules = p.rules()
    assert {r.restriction for r in rules} == set(p.in_force())
    for rule in rules:
        assert rule.basis in ("law", "default")
        if rule.basis == "law":
            assert rule.source in p.sources
        else:
            assert rule.source.startswith("liveloop recommendation")
    assert get_market(code).to_dict()["policy"]["rules"] == [r.to_dict() for r in rules]


def test_the_catalogue_says_which_markets_refuse_which_words():
    content = {code: get_market(code).policy.content for code in ("SA", "AE", "EG", "ID", "MY")}
    assert content["SA"].errors == ("alcohol", "pork", "gambling")
    assert all("gambling" in c.errors for c in content.values())
    assert {code for code, m in load_catalogue().items() if m.policy.content.errors} == set(content)
    assert get_market("SA").to_dict()["policy"]["content"] == {"errors": ["alcohol", "pork", "gambling"],
                                                               "warnings": []}


def _raw() -> dict:
    return json.loads(resources.files("liveloop.markets").joinpath("catalogue.json").read_text("utf-8"))


@pytest.mark.parametrize(("path", "value", "message"), [
    (["markets", 0, "policy", "cites"], {}, "must name the source"),
    (["markets", 0, "policy", "cites", "draw_permit_required"], {"basis": "law", "source": "A law nobody listed"},
     "not in policy.sources"),
    (["markets", 0, "policy", "cites", "draw_permit_required"], "ID Consumer Protection Law 8/1999", "basis"),
    (["markets", 0, "policy", "cites", "draw_permit_required"], {"basis": "custom", "source": "x"}, "basis"),
    (["markets", 0, "policy", "cites", "fun"], {"basis": "default", "source": "x"}, "unknown restrictions"),
    (["markets", 0, "policy", "content"], {"errors": ["tobacco"]}, "without a lexicon"),
    (["markets", 0, "policy", "content"], {"errors": ["pork"], "warnings": ["pork"]}, "both"),
    (["markets", 0, "policy", "permit_authority"], None, "permit_authority"),
    (["markets", 2, "policy", "draw_permit_required"], False, "permit_authority"),  # TH
    (["markets", 0, "policy", "draw_permit_above"], {"amount": "5000", "currency": "XXY"}, "currency"),
    (["markets", 3, "policy", "promo_value_limit"], {"percent": 50, "programme_percent": 40}, "below"),  # VN
    (["markets", 6, "policy", "draw_period_max_days"], 0, "at least 1"),  # SA
])
def test_catalogue_refuses_uncited_or_unknown_policy_entries(path, value, message):
    raw = copy.deepcopy(_raw())
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(raw)


def test_a_threshold_needs_a_permit_rule():
    raw = copy.deepcopy(_raw())
    [us] = [m for m in raw["markets"] if m["code"] == "US"]
    us["policy"]["draw_permit_required"] = False
    us["policy"]["permit_authority"] = None
    with pytest.raises(CatalogueError, match="draw_permit_above needs draw_permit_required"):
        parse_catalogue(raw)


# --- leaderboard names --------------------------------------------------------------------------------


@pytest.mark.parametrize("market", PRIVACY_FIRST)
def test_names_are_masked_without_consent_in_europe_and_north_america(market):
    m = get_market(market)
    assert leaderboard_name(m, "Siti K.", {}) == ("S***", True)
    assert leaderboard_name(m, "Siti K.", {"leaderboard_public": False}) == ("S***", True)
    assert leaderboard_name(m, "Siti K.", {"leaderboard_public": True}) == ("Siti K.", False)
    assert leaderboard_name(m, None, None) == (None, True)
    assert leaderboard_name(m, "  émile", {}) == ("é***", True)


@pytest.mark.parametrize("market", PRIVACY_FIRST)
def test_a_campaign_that_waives_masking_shows_names(market):
    m = get_market(market)
    assert leaderboard_name(m, "Siti K.", {}, waive=["policy.leaderboard_masking"]) == ("Siti K.", False)
    assert codes(campaign(market, waive=["policy.leaderboard_masking"])) == []


def test_a_masking_rule_made_law_ignores_a_stored_waiver():
    germany = get_market("DE")
    strict = dataclasses.replace(germany, policy=dataclasses.replace(germany.policy, cites=tuple(
        (name, policy.Cite("law", germany.policy.sources[0]) if name == "leaderboard_mask_names_without_consent"
         else cite) for name, cite in germany.policy.cites)))
    assert leaderboard_name(strict, "Siti K.", {}, waive=["policy.leaderboard_masking"]) == ("S***", True)


@pytest.mark.parametrize("market", ["ID", "SA", "TH"])
def test_names_are_shown_where_the_market_does_not_mask(market):
    assert leaderboard_name(get_market(market), "فاطمة", {}) == ("فاطمة", False)
