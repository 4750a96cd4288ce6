"""The README's tour of the API, run as a reader runs it: its shell blocks, with bash and curl, against
a real server, on whatever day the tests run.

Only what a reader fills in by hand is replaced: the test's server stands in for the README's
`liveloop tenant create` and `liveloop serve`, and its address and API key for the `API=` and `KEY=`
lines. Every curl command runs exactly as the README prints it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import create_tenant

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_script(api: str, key: str) -> str:
    """Every `sh` block from "A tour of the API" on, with the reader's own lines filled in."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text[text.index("## A tour of the API"):], re.DOTALL)
    lines, filled = [], set()
    for line in "".join(blocks).splitlines():
        word = line.split(maxsplit=1)[0] if line.strip() else ""
        if word == ".venv/bin/liveloop":
            filled.add(line.split()[1])  # the test's server, already running, with its own tenant
            continue
        if word.startswith(("API=", "KEY=")):
            name = word.split("=")[0]
            filled.add(name)
            line = f"{name}={api if name == 'API' else key}"
        lines.append(line)
    assert filled == {"tenant", "serve", "API", "KEY"}, f"the tour no longer starts as this test expects: {filled}"
    return "\n".join(lines)


def answers(output: str) -> list[dict]:
    """The JSON documents curl printed, one after another (the API ends none with a newline)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while True:
        at = output.find("{", at)
        if at < 0:
            return found
        document, at = decoder.raw_decode(output, at)
        found.append(document)


def test_the_readme_tour_works_as_written_on_any_day(server):
    for tool in ("bash", "curl", "date"):
        if shutil.which(tool) is None:
            pytest.fail(f"the README's tour needs {tool}")
    key = create_tenant(server.database_url, "Acme Live", "shop.example.com")
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", tour_script(server.url, key)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    docs = answers(run.stdout)
    assert not [d for d in docs if "error" in d], run.stdout

    campaign = next(d for d in docs if d.get("id") == "spring-live")
    assert (campaign["currency"], campaign["timezone"]) == ("IDR", "Asia/Jakarta")
    ingested = next(d for d in docs if "accepted" in d)
    assert ingested == {"accepted": 3, "duplicates": 0, "rejected": []}
    progress = next(d for d in docs if d.get("user_id") == "siti" and "metrics" in d)
    assert (progress["metrics"]["reservations"], progress["metrics"]["joins"], progress["metrics"]["orders"]) == (
        1, 1, 1)
    assert progress["rank"] == 1
    leaderboard = next(d for d in docs if "entries" in d)
    assert [(e["user_id"], e["score"]) for e in leaderboard["entries"]] == [("siti", 1)]
    ledger = next(d for d in docs if "rewards" in d and "funnel" not in d and "metrics" not in d)
    assert {(r["rule_id"], r["kind"], r["status"]) for r in ledger["rewards"]} == {
        ("invite", "coupon", "available"), ("cashback", "cashback", "pending")}
    made = next(d for d in docs if "key" in d and "scopes" in d)
    assert made["scopes"] == ["read", "write"] and made["key"].startswith("ll_")
    keys = next(d for d in docs if "api_keys" in d)
    assert {k["name"] for k in keys["api_keys"]} == {"admin", "shop back end"} and made["key"] not in str(keys)
    audit = next(d for d in docs if "entries" in d and "next_cursor" in d and "metric" not in d)
    assert audit["entries"][0]["action"] == "api_key.create" and audit["entries"][0]["target"] == f"id={made['id']}"
    exported = next(d for d in docs if "profile" in d)
    assert exported["user_id"] == "budi" and [c["referrer"] for c in exported["campaigns"]] == ["siti"]
    erased = next(d for d in docs if "pseudonym" in d)
    assert erased["erased"] is True and erased["pseudonym"].startswith("erased-")
    report = next(d for d in docs if "funnel" in d)
    assert (report["funnel"]["reservations"], report["funnel"]["joins"], report["funnel"]["orders"]) == (1, 1, 1)
    assert report["referred"]["users"] == 1
    token = next(d for d in docs if "token" in d)
    assert token["token"] and token["expires_at"]
