"""SPEC 9: fuzzing the OpenAPI finds no 5xx (schemathesis against a real server, on both backends).

Every phase runs: the schema's examples, its boundaries (coverage), random data (fuzzing) and
stateful scenarios that follow the OpenAPI links, so campaigns the run creates are then used
(invites, events, share links, progress, draws, viewer tokens and presence beats on them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.support import BIN, create_tenant

HOOKS = Path(__file__).with_name("fuzz_hooks.py")
CONFIG = Path(__file__).with_name("schemathesis.toml")  # examples per phase; the stateful phase's own


def test_no_operation_answers_a_server_error(server, tmp_path):
    key = create_tenant(server.database_url, "fuzz")  # its own tenant: it supplies FX rates, among others
    result = subprocess.run(
        [str(BIN / "schemathesis"), "--config-file", str(CONFIG), "run", f"{server.url}/openapi.json",
         "-H", f"Authorization: Bearer {key}",
         "--checks", "not_a_server_error",
         "--phases", "examples,coverage,fuzzing,stateful",
         "--exclude-path", "/v1/stream", "--exclude-path", "/v1/campaigns/{cid}/room-stream",
         "--seed", "20261125",
         "--report", "har", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    [har] = tmp_path.glob("har-*.json")
    created, used = campaigns_created_and_used(json.loads(har.read_text())["log"]["entries"])
    assert created, "no campaign was created: the stateful phase had nothing to use"
    assert used, "no campaign the run created was used afterwards"


def campaigns_created_and_used(entries: list[dict]) -> tuple[set[str], set[str]]:
    """Campaign ids created with a 201, and those of them a later 2xx request of the run used."""
    created: set[str] = set()
    used: set[str] = set()
    for entry in entries:
        request, response = entry["request"], entry["response"]
        status = response["status"]
        text = response.get("content", {}).get("text") or ""
        if request["method"] == "POST" and request["url"].endswith("/v1/campaigns") and status == 201:
            created.add(json.loads(text)["id"])
        elif 200 <= status < 300:
            match = re.search(r"/v1/campaigns/([^/?]+)/", request["url"])
            if match and match.group(1) in created:
                used.add(match.group(1))
            if request["url"].endswith("/v1/events") and '"accepted":0' not in text:
                sent = request.get("postData", {}).get("text") or ""
                used.update(cid for cid in created if f'"campaign_id":"{cid}"' in sent.replace(" ", ""))
    return created, used
