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
    assert "source: SA Ministry of Commerce (commercial competitions permit)" in out
    assert out.strip().endswith("3 error(s), 0 warning(s)")


def test_warnings_alone_pass_and_json_output_lists_them(tmp_path):
    body = campaign("AE", [], description="Wine pairing evening")
    result = runner.invoke(app, ["policy", "check", "--json", str(write(tmp_path, body))])
    assert result.exit_code == 0, result.output
    [warning] = json.loads(result.output)
    assert (warning["severity"], warning["code"], warning["field"], warning["words"]) == (
        "warning", "policy.content", "description", ["Wine"])


def test_a_lawful_campaign_passes(tmp_path):
    draw = {**SAUDI_DRAW, "entry": {"metric": "joins", "at_least": 3}, "permit": "MC-2027-77"}
    result = runner.invoke(app, ["policy", "check", str(write(tmp_path, campaign("SA", [draw])))])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_an_invalid_campaign_file_is_reported_not_raised(tmp_path):
    result = runner.invoke(app, ["policy", "check", str(write(tmp_path, {"id": "c1", "market": "ZZ"}))])
    assert result.exit_code == 1
    assert "error: invalid at title" in result.output
    bad_market = runner.invoke(app, ["policy", "check", str(write(tmp_path, campaign("ZZ", [])))])
    assert bad_market.exit_code == 1 and "error: invalid at market: unknown market ZZ" in bad_market.output
    (tmp_path / "broken.json").write_text("{nope")
    broken = runner.invoke(app, ["policy", "check", str(tmp_path / "broken.json")])
    assert broken.exit_code == 1 and "error: invalid" in broken.output
