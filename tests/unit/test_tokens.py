"""Viewer tokens: signed for one (tenant, campaign, user), expiring, and useless to anyone else."""

from __future__ import annotations

import base64

import orjson
import pytest

from liveloop.kit.errors import Unauthorized
from liveloop.realtime.tokens import sign, verify

SECRET = "s3cret" * 8
NOW = 1_800_000_000_000


def _token(user_id: str = "u1", ttl: int = 600, secret: str = SECRET, now: int = NOW) -> str:
    token, _ = sign(secret, tenant_id="tn_a", campaign_id="c1", user_id=user_id, ttl_seconds=ttl, now=now)
    return token


def test_a_token_names_its_viewer_and_expiry():
    token, expires_at = sign(SECRET, tenant_id="tn_a", campaign_id="c1", user_id="u1", ttl_seconds=600, now=NOW)
    viewer = verify(SECRET, token, now=NOW + 1000)
    assert viewer.key == ("tn_a", "c1", "u1")
    assert viewer.expires_at == expires_at == NOW + 600_000
    assert "=" not in token and "/" not in token and "+" not in token  # safe in a query string


def test_expired_at_its_expiry_instant():
    token = _token(ttl=60)
    assert verify(SECRET, token, now=NOW + 59_999).user_id == "u1"
    with pytest.raises(Unauthorized) as exc:
        verify(SECRET, token, now=NOW + 60_000)
    assert exc.value.code == "token_expired"


@pytest.mark.parametrize("ttl", [59, 86_401, 0, -1])
def test_ttl_out_of_range_is_refused(ttl):
    with pytest.raises(ValueError):
        _token(ttl=ttl)


def test_another_users_token_cannot_be_made_from_mine():
    mine = _token("u1")
    body, _, mac = mine.partition(".")
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["u"] = "u2"
    forged_body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    with pytest.raises(Unauthorized) as exc:
        verify(SECRET, f"{forged_body}.{mac}", now=NOW)
    assert exc.value.code == "unauthorized"
    # The genuine token for u2 is a different token, and each verifies as its own user.
    assert verify(SECRET, _token("u2"), now=NOW).user_id == "u2"
    assert verify(SECRET, mine, now=NOW).user_id == "u1"


def test_tampered_or_extended_token_is_refused():
    token = _token()
    assert verify(SECRET, token, now=NOW).user_id == "u1"  # untouched, it passes
    body, _, mac = token.partition(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["x"] += 10**9
    longer = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    for bad in (f"{body}.{flipped}", f"{longer}.{mac}", f"{body}x.{mac}", f"{body}.{mac}=", f"{body}.{mac}.x"):
        with pytest.raises(Unauthorized):
            verify(SECRET, bad, now=NOW)


def test_a_token_from_another_secret_is_refused():
    assert verify("other-secret", _token(secret="other-secret"), now=NOW).user_id == "u1"  # valid there
    with pytest.raises(Unauthorized) as exc:
        verify(SECRET, _token(secret="other-secret"), now=NOW)
    assert exc.value.code == "unauthorized"


@pytest.mark.parametrize("bad", [None, "", "nodot", ".", "a.b", "é.é", "x" * 2000, "a b.c"])
def test_missing_or_malformed_tokens_are_refused(bad):
    with pytest.raises(Unauthorized):
        verify(SECRET, bad, now=NOW)
