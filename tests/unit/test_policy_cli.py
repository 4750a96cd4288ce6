"""`liveloop policy check FILE`: every finding with its code and source; exit 1 on an error."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from liveloop.cli import app

runner = CliRunner()


def write(tmp_path, body: dict):
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def campaign(market: str, rules: list, **fields) -> dict:
    return {"id": "c1", "title": "Eid live", "market": market, "starts_at": "2027-03-01T18:00:00Z",
            "ends_at": "2027-03-01T20:00:00Z", "landing_url": "https://shop.example.com/live", "rules": rules, **fields}


SAUDI_DRAW = {"id": "d1", "type": "draw", "entry": {"metric": "orders", "at_least": 1}, "winners": 1,
              "prize": {"kind": "free_item", "sku": "OUD-1"}}


def test_prints_every_violation_with_code_field_and_source_and_fails(tmp_path):
    result = runner.invoke(app, ["policy", "check", str(write(tmp_path, campaign("SA", [SAUDI_DRAW],
                                                                                  title="ليلة الكازينو")))])
    assert result.exit_code == 1
    out = result.output
    assert "error: policy.content at title" in out and "«الكازينو»" in out
    assert "error: policy.permit_required at rules.0.permit" in out
    assert "error: policy.purchase_linked_draw at rules.0.entry" in out
    assert "basis: law, source: SA Anti-Commercial Fraud Law" in out
    assert "basis: law, source: SA Ministry of Commerce licence for commercial competitions" in out
    assert out.strip().endswith("3 error(s), 0 warning(s), 0 waived")


def test_warnings_alone_pass_and_json_output_lists_them(tmp_path):
    body = campaign("AE", [], description="Wine pairing evening")
    result = runner.invoke(app, ["policy", "check", "--json", str(write(tmp_path, body))])
    assert result.exit_code == 0, result.output
    [warning] = json.loads(result.output)
    assert (warning["severity"], warning["code"], warning["field"], warning["words"], warning["basis"]) == (
        "warning", "policy.content", "description", ["Wine"], "law")


def test_a_lawful_campaign_passes(tmp_path):
    draw = {**SAUDI_DRAW, "entry": {"metric": "joins", "at_least": 3}, "permit": "MC-2027-77"}
    result = runner.invoke(app, ["policy", "check", str(write(tmp_path, campaign("SA", [draw])))])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s), 0 waived" in result.output


GERMAN_DRAW = {"id": "d1", "type": "draw", "entry": {"metric": "orders", "at_least": 1}, "winners": 1,
               "prize": {"kind": "free_item", "sku": "KAFFEE-1"}}


def test_a_waived_default_passes_and_is_shown_as_waived(tmp_path):
    refused = runner.invoke(app, ["policy", "check", str(write(tmp_path, campaign("DE", [GERMAN_DRAW])))])
    assert refused.exit_code == 1
    assert "error: policy.free_entry_required at rules.0.free_entry" in refused.output
    assert "basis: default, source: liveloop recommendation" in refused.output
    body = campaign("DE", [GERMAN_DRAW], waive=["policy.free_entry_required"])
    result = runner.invoke(app, ["policy", "check", str(write(tmp_path, body))])
    assert result.exit_code == 0, result.output
    assert "waived: policy.free_entry_required at rules.0.free_entry" in result.output
    assert result.output.strip().endswith("0 error(s), 0 warning(s), 1 waived")


def test_a_waived_law_is_refused(tmp_path):
    body = campaign("US", [{**GERMAN_DRAW, "entry": {"event": "share"}}], waive=["policy.free_entry_required"])
    result = runner.invoke(app, ["policy", "check", "--json", str(write(tmp_path, body))])
    assert result.exit_code == 1
    found = {(f["severity"], f["code"], f["field"], f["basis"]) for f in json.loads(result.output)}
    assert found == {("error", "policy.sharing_required", "rules.0.entry", "default"),
                     ("error", "policy.free_entry_required", "rules.0.free_entry", "law"),
                     ("error", "policy.waiver_refused", "waive.0", "law"),
                     ("warning", "policy.prize_value_unknown", "rules.0.prize", "law")}


def test_an_invalid_campaign_file_is_reported_not_raised(tmp_path):
    result = runner.invoke(app, ["policy", "check", str(write(tmp_path, {"id": "c1", "market": "ZZ"}))])
    assert result.exit_code == 1
    assert "error: invalid at title" in result.output
    bad_market = runner.invoke(app, ["policy", "check", str(write(tmp_path, campaign("ZZ", [])))])
    assert bad_market.exit_code == 1 and "error: invalid at market: unknown market ZZ" in bad_market.output
    (tmp_path / "broken.json").write_text("{nope")
    broken = runner.invoke(app, ["policy", "check", str(tmp_path / "broken.json")])
    assert broken.exit_code == 1 and "error: invalid" in broken.output
