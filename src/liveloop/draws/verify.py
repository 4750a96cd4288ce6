"""An independent check of a draw, for `liveloop draw verify` and for anyone auditing one.

Deliberately self-contained (the recomputation uses the standard library only and shares nothing
with draws/selection.py): it follows the text of docs/draws.md, so a bug in the server's selection
would not be repeated here. `check_remote` fetches a run from the API (with httpx) and checks it.
"""

from __future__ import annotations

import hashlib
import json


def recompute_winners(seed: str, entrants: list[str], winners: int) -> list[str]:
    """docs/draws.md: rank entrants by int(sha256(seed + "\\n" + user_id)), lowest first; take `winners`."""
    scored = []
    for user_id in set(entrants):
        number = int(hashlib.sha256((seed + "\n" + user_id).encode("utf-8")).hexdigest(), 16)
        scored.append((number, user_id.encode("utf-8"), user_id))
    scored.sort()
    return [user_id for _number, _raw, user_id in scored[:max(winners, 0)]]


def list_hash(entrants: list[str]) -> str:
    """docs/draws.md: sha256 of the ids sorted by UTF-8 bytes, each followed by a newline."""
    raw = sorted({user_id.encode("utf-8") for user_id in entrants})
    return hashlib.sha256(b"".join(user_id + b"\n" for user_id in raw)).hexdigest()


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def read_entrants(text: str) -> list[str]:
    """An entrant file: a JSON list of user ids (or the API's `{"entrants": [...]}` answer as saved),
    or one user id per line (blank lines ignored)."""
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        value = json.loads(stripped)
        if isinstance(value, dict):
            value = value.get("entrants")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("a JSON entrant file is a list of user id strings")
        return value
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def check_remote(url: str, api_key: str, campaign: str, rule: str, period: str | None) -> tuple[list[str], list]:
    """Fetch a run period from the API and check it; returns (recomputed winners, [(check, ok, detail)])."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"}
    base = f"{url.rstrip('/')}/v1/campaigns/{campaign}/draws/{rule}"
    with httpx.Client(headers=headers, timeout=60) as client:
        draw = _json(client.get(base))
        if period is None:
            period = "campaign" if draw["period"] == "campaign" else None
        if period is None:
            raise ValueError("--period is required for an hourly draw")
        found = next((p for p in draw["periods"] if p["period"] == period), None)
        if found is None:
            raise ValueError(f"draw {rule!r} has no period {period!r}")
        result = found["result"]
        if result is None:
            raise ValueError(f"period {period!r} has not been run")
        listed = _json(client.get(f"{base}/entrants", params={"period": period}))
    entrants = listed["entrants"]
    winners = recompute_winners(result["seed"], entrants, draw["winners"])
    checks = [
        ("seed_hash == sha256(seed)", commitment(result["seed"]) == found["seed_hash"], found["seed_hash"]),
        ("entrants_hash == sha256(entrant list)", list_hash(entrants) == result["entrants_hash"],
         result["entrants_hash"]),
        ("entrants == count of the list", len(set(entrants)) == result["entrants"], str(result["entrants"])),
        ("winners == recomputed", winners == result["winners"], ", ".join(result["winners"]) or "(none)"),
    ]
    return winners, checks


def _json(response) -> dict:
    if response.status_code != 200:
        raise ValueError(f"{response.request.method} {response.request.url} answered {response.status_code}: "
                         f"{response.text[:300]}")
    return response.json()
