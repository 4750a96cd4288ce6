"""Market policy at campaign creation (SPEC section 6): each policy refused and accepted, from the catalogue."""

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
from liveloop.markets.policy import ERROR, WARNING, PolicyViolation, check, leaderboard_name

PERMIT_MARKETS = ("VN", "ID", "MY", "PH", "SA", "AE")
FREE_ENTRY_MARKETS = ("DE", "FR", "GB", "ES", "IT", "NL", "US", "CA")


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


def findings(body: dict) -> list[policy.Finding]:
    return check(body, get_market(body["market"]))


def codes(body: dict) -> list[tuple[str, str]]:
    return [(f.code, f.field) for f in findings(body) if f.severity == ERROR]


# --- permits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("market", PERMIT_MARKETS)
def test_a_lucky_draw_without_a_permit_is_refused_where_permits_are_required(market):
    body = campaign(market, {"id": "rr", "type": "reservation_referral",
                             "referrer_reward": {"kind": "points", "points": 5}}, draw())
    [finding] = [f for f in findings(body) if f.code == "policy.permit_required"]
    assert finding.field == "rules.1.permit"
    assert '"permit"' in finding.message and "'lucky'" in finding.message
    assert finding.source in get_market(market).policy.sources
    assert finding.message.endswith(f"Source: {finding.source}.")


@pytest.mark.parametrize("market", PERMIT_MARKETS)
def test_a_lucky_draw_with_a_permit_is_accepted(market):
    assert codes(campaign(market, draw(permit="PERMIT-2027/001", free_entry=True))) == []


def test_a_blank_permit_is_no_permit():
    assert codes(campaign("ID", draw(permit="   "))) == [("policy.permit_required", "rules.0.permit")]


@pytest.mark.parametrize("market", ["TH", "SG", "EG"])
def test_markets_without_a_permit_rule_accept_draws_without_one(market):
    assert codes(campaign(market, draw())) == []


# --- purchase-linked draws ------------------------------------------------------------------------


@pytest.mark.parametrize("market", ["SA", "MY"])
@pytest.mark.parametrize("metric", ["orders", "gmv"])
def test_a_draw_entered_by_purchases_is_refused_in_sa_and_my(market, metric):
    body = campaign(market, draw(permit="P-1", entry={"metric": metric, "at_least": 1}))
    assert codes(body) == [("policy.purchase_linked_draw", "rules.0.entry")]
    assert "purchase" in findings(body)[0].message


@pytest.mark.parametrize("market", ["SA", "MY"])
@pytest.mark.parametrize("entry", [{"metric": "joins", "at_least": 3}, {"metric": "reservations", "at_least": 1},
                                   {"event": "share"}])
def test_draws_entered_otherwise_are_accepted_in_sa_and_my(market, entry):
    assert codes(campaign(market, draw(permit="P-1", entry=entry))) == []


@pytest.mark.parametrize("market", ["ID", "AE", "TH"])
def test_purchase_linked_draws_are_allowed_elsewhere(market):
    body = campaign(market, draw(permit="P-1", entry={"metric": "orders", "at_least": 1}))
    assert not [c for c, _f in codes(body) if c == "policy.purchase_linked_draw"]


# --- free entry and sharing -------------------------------------------------------------------------


@pytest.mark.parametrize("market", FREE_ENTRY_MARKETS)
def test_every_draw_needs_a_free_entry_in_eu_gb_and_na(market):
    body = campaign(market, draw())
    assert codes(body) == [("policy.free_entry_required", "rules.0.free_entry")]
    assert '"free_entry": true' in findings(body)[0].message


@pytest.mark.parametrize("market", FREE_ENTRY_MARKETS)
def test_a_draw_with_a_free_entry_is_accepted_in_eu_gb_and_na(market):
    assert codes(campaign(market, draw(free_entry=True))) == []


@pytest.mark.parametrize("market", FREE_ENTRY_MARKETS)
def test_share_to_enter_without_free_entry_is_refused_first_as_sharing_required(market):
    body = campaign(market, draw(entry={"event": "share"}))
    assert codes(body) == [("policy.sharing_required", "rules.0.entry"),
                           ("policy.free_entry_required", "rules.0.free_entry")]


@pytest.mark.parametrize("market", FREE_ENTRY_MARKETS)
def test_share_to_enter_is_lawful_once_it_has_a_free_entry(market):
    assert codes(campaign(market, draw(entry={"event": "share"}, free_entry=True))) == []


@pytest.mark.parametrize("market", ["ID", "TH", "SA"])
def test_share_to_enter_draws_are_welcome_in_sea_and_mena(market):
    assert codes(campaign(market, draw(entry={"event": "share"}, permit="P-1"))) == []


def test_gb_cites_uk_sources_not_eu_ones():
    [sharing, free] = findings(campaign("GB", draw(entry={"event": "share"})))
    assert (sharing.source, free.source) == ("UK CAP Code 8 (promotional marketing)",
                                             "UK Gambling Act 2005 Sch. 2 (free draws)")


# --- promotional value ------------------------------------------------------------------------------


def coupon(percent: str) -> dict:
    return {"kind": "coupon", "percent_off": percent}


@pytest.mark.parametrize(("rule", "field"), [
    ({"id": "rr", "type": "reservation_referral", "referrer_reward": coupon("60")}, "rules.0.referrer_reward"),
    ({"id": "rr", "type": "reservation_referral", "referrer_reward": coupon("10"), "referee_reward": coupon("50.5")},
     "rules.0.referee_reward"),
    ({"id": "m", "type": "milestone", "metric": "joins",
      "tiers": [{"at": 1, "reward": coupon("20")}, {"at": 5, "reward": coupon("70")}]}, "rules.0.tiers.1.reward"),
    (draw(permit="P-1", prize=coupon("100")), "rules.0.prize"),
])
def test_vietnam_refuses_a_coupon_worth_more_than_half_the_price(rule, field):
    body = campaign("VN", rule)
    assert codes(body) == [("policy.promo_value_limit", f"{field}.percent_off")]
    assert "50" in findings(body)[0].message and findings(body)[0].source == "VN Decree 81/2018/ND-CP Art. 6"


def test_vietnam_accepts_half_off_and_other_markets_any_percentage():
    rule = {"id": "rr", "type": "reservation_referral", "referrer_reward": coupon("50"),
            "referee_reward": {"kind": "coupon", "amount": "100000"}}
    assert codes(campaign("VN", rule)) == []
    assert codes(campaign("TH", {**rule, "referrer_reward": coupon("90")})) == []


# --- every finding, in document order --------------------------------------------------------------


def test_all_violations_are_returned_in_document_order():
    body = campaign("SA", draw(id="a", entry={"metric": "gmv", "at_least": 1}), draw(id="b"),
                    title="Casino night")
    assert codes(body) == [("policy.content", "title"), ("policy.permit_required", "rules.0.permit"),
                           ("policy.purchase_linked_draw", "rules.0.entry"),
                           ("policy.permit_required", "rules.1.permit")]


def test_enforce_raises_the_first_error_as_a_422_with_its_source():
    body = campaign("MY", draw(entry={"metric": "orders", "at_least": 1}))
    with pytest.raises(PolicyViolation) as raised:
        policy.enforce(body, get_market("MY"))
    error = raised.value.body()["error"]
    assert raised.value.status == 422
    assert (error["code"], error["field"]) == ("policy.permit_required", "rules.0.permit")
    assert error["source"] == "MY Lotteries Act 1952" and error["source"] in error["message"]


def test_the_policy_is_driven_by_the_market_handed_in():
    """The seam for a tenant's own catalogue: change the Market, not the code."""
    thailand = get_market("TH")
    strict = dataclasses.replace(thailand, policy=dataclasses.replace(
        thailand.policy, draw_permit_required=True,
        cites=(*thailand.policy.cites, ("draw_permit_required", thailand.policy.sources[0]))))
    body = campaign("TH", draw())
    assert check(body, thailand) == []
    [finding] = check(body, strict)
    assert (finding.code, finding.source) == ("policy.permit_required", "TH Consumer Protection Act B.E. 2522")


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
        "source": "AE Federal Decree-Law 55/2023 on media regulation (advertising content)"}


# --- normalize (the API path) -----------------------------------------------------------------------


def test_normalize_refuses_with_the_policy_error_and_keeps_warnings():
    refused = CampaignCreate.model_validate(campaign("PH", draw()))
    with pytest.raises(PolicyViolation) as raised:
        service.normalize(refused, allowed_hosts=())
    assert raised.value.code == "policy.permit_required"
    accepted = CampaignCreate.model_validate(campaign("EG", title="Casino-free family live", description="Beer"))
    data = service.normalize(accepted, allowed_hosts=())
    assert [w["words"] for w in data["warnings"]] == [["Beer"]]
    clean = service.normalize(CampaignCreate.model_validate(campaign("US")), allowed_hosts=())
    assert clean["warnings"] == []


def test_description_and_share_text_have_length_limits():
    CampaignCreate.model_validate(campaign("US", description="d" * 2000, share_text="s" * 500))
    with pytest.raises(ValueError, match="description"):
        CampaignCreate.model_validate(campaign("US", description="d" * 2001))
    with pytest.raises(ValueError, match="share_text"):
        CampaignCreate.model_validate(campaign("US", share_text="s" * 501))


# --- the catalogue: every restriction cites a source ----------------------------------------------


@pytest.mark.parametrize("code", list(load_catalogue()))
def test_every_restriction_in_force_cites_one_of_the_markets_sources(code):
    p = get_market(code).policy
    cites = dict(p.cites)
    in_force = {"draw_permit_required": p.draw_permit_required,
                "purchase_linked_draw_forbidden": p.purchase_linked_draw_forbidden,
                "free_entry_required": p.free_entry_required,
                "sharing_may_be_required": not p.sharing_may_be_required,
                "leaderboard_mask_names_without_consent": p.leaderboard_mask_names_without_consent,
                "content": bool(p.content.errors or p.content.warnings)}
    for restriction, active in in_force.items():
        if active:
            assert cites[restriction] in p.sources


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
    (["markets", 0, "policy", "cites", "draw_permit_required"], "A law nobody listed", "not in policy.sources"),
    (["markets", 0, "policy", "cites", "fun"], "ID Consumer Protection Law 8/1999", "unknown restrictions"),
    (["markets", 0, "policy", "content"], {"errors": ["tobacco"]}, "without a lexicon"),
    (["markets", 0, "policy", "content"], {"errors": ["pork"], "warnings": ["pork"]}, "both"),
])
def test_catalogue_refuses_uncited_or_unknown_policy_entries(path, value, message):
    raw = copy.deepcopy(_raw())
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(raw)


# --- leaderboard names --------------------------------------------------------------------------------


@pytest.mark.parametrize("market", ["DE", "GB", "US", "CA"])
def test_names_are_masked_without_consent_in_eu_gb_and_na(market):
    m = get_market(market)
    assert leaderboard_name(m, "Siti K.", {}) == ("S***", True)
    assert leaderboard_name(m, "Siti K.", {"leaderboard_public": False}) == ("S***", True)
    assert leaderboard_name(m, "Siti K.", {"leaderboard_public": True}) == ("Siti K.", False)
    assert leaderboard_name(m, None, None) == (None, True)
    assert leaderboard_name(m, "  émile", {}) == ("é***", True)


@pytest.mark.parametrize("market", ["ID", "SA", "TH"])
def test_names_are_shown_where_the_market_does_not_mask(market):
    assert leaderboard_name(get_market(market), "فاطمة", {}) == ("فاطمة", False)
