"""Webhook signatures: Agora-Signature-V2 and LiveKit's Authorization JWT, against the documented algorithms."""

from __future__ import annotations

import base64
import hashlib
import itertools
import time

import jwt as pyjwt
import pytest

from liveloop.integrations import agora, livekit
from liveloop.kit.errors import BadRequest, Unauthorized
from tests.webhook_signing import agora_body, agora_signature, jwt_hs256, livekit_body, livekit_token

# -- Agora ---------------------------------------------------------------------------------------

# The example of Agora's "Verify the signature" page: this body and the secret "secret".
AGORA_DOC_BODY = (b'{"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,'
                  b'"payload":{"a":"1","b":2},"productId":1}')
AGORA_DOC_SIGNATURE = "de96da5acf03b0021ac3b4fa2225e7ae6f3533a30d50bb02c08ea4fa748bda24"


def test_agora_signature_matches_agoras_documented_example():
    assert agora.signature("secret", AGORA_DOC_BODY) == AGORA_DOC_SIGNATURE
    assert agora.verify("secret", AGORA_DOC_BODY, AGORA_DOC_SIGNATURE)
    assert agora.verify("secret", AGORA_DOC_BODY, AGORA_DOC_SIGNATURE.upper() + " ")


def test_agora_signature_refuses_any_change():
    body = agora_body("n-1", 105, "live-1", uid=42, client_seq=1, ts=1_700_000_000)
    good = agora_signature("s3cret-s3cret", body)
    assert agora.verify("s3cret-s3cret", body, good)
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 0x01
    assert not agora.verify("s3cret-s3cret", bytes(flipped), good)
    assert not agora.verify("another-secret", body, good)
    assert not agora.verify("s3cret-s3cret", body, good[:-1])
    assert not agora.verify("s3cret-s3cret", body, "")
    assert not agora.verify("s3cret-s3cret", body, "é" * 64)  # not even ASCII: refused, no crash


def test_agora_notice_is_read_with_its_own_event_time():
    notice = agora.parse(agora_body("n-1", 106, "live-1", uid=42, client_seq=7, ts=1_700_000_000))
    assert notice == agora.Notice("n-1", 106, "live-1", "42", 7, 1_700_000_000_000)
    for bad in (b"[]", b"{nope", b'{"noticeId": 5, "eventType": 105}', b'{"noticeId": "x", "eventType": "105"}',
                b'{"noticeId": "x", "eventType": 105, "payload": {"ts": "soon"}}'):
        with pytest.raises(BadRequest):
            agora.parse(bad)


def test_agora_notices_of_one_second_keep_their_clientseq_order_whatever_the_arrival():
    ts = 1_700_000_000_000
    for arrival in itertools.permutations([1, 2, 3, 4]):
        clock = agora.SequenceClock()
        placed = {seq: clock.place(("int", "ch", "42"), seq, ts) for seq in arrival}
        assert [placed[s] for s in (1, 2, 3, 4)] == sorted(placed.values()), arrival
        assert len(set(placed.values())) == 4
        assert all(ts <= at < ts + 1000 for at in placed.values())
        assert clock.place(("int", "ch", "42"), 3, ts) == placed[3]  # a retry lands where it landed


def test_agora_sequence_wins_over_disagreeing_clocks_and_users_are_apart():
    clock = agora.SequenceClock()
    newer = clock.place(("i", "ch", "7"), 10, 2_000_000)
    older = clock.place(("i", "ch", "7"), 9, 5_000_000)  # an older notice with a later ts
    assert older < newer
    assert clock.place(("i", "ch", "8"), 1, 5_000_000) == 5_000_499  # another user: its own ts
    assert clock.place(("i", "ch", "9"), None, 5_000_000) == 5_000_000  # no clientSeq: the ts itself


# -- LiveKit -------------------------------------------------------------------------------------

SECRET, KEY = "lk-secret-" + "0123456789" * 6, "APIkey123"  # long enough to sign HS512 with


def test_livekit_token_signed_as_livekit_does_is_accepted():
    now = int(time.time())
    body = livekit_body("EV_1", "participant_joined", "live-1", created_at=now, identity="budi")
    token = livekit_token(body, api_key=KEY, secret=SECRET, now=now)
    claims = livekit.verify(token, body, secret=SECRET, api_key=KEY, now_ms=now * 1000)
    assert claims["iss"] == KEY
    livekit.verify(f"Bearer {token}", body, secret=SECRET, api_key=KEY, now_ms=now * 1000)
    livekit.verify(token, body, secret=SECRET, api_key=None, now_ms=now * 1000)  # no API key configured
    # Clock skew within the leeway is tolerated, an expired token is not.
    livekit.verify(token, body, secret=SECRET, api_key=KEY, now_ms=(now + 300 + 59) * 1000)
    with pytest.raises(Unauthorized, match="expired"):
        livekit.verify(token, body, secret=SECRET, api_key=KEY, now_ms=(now + 300 + 61) * 1000)


def test_livekit_refuses_a_changed_body_a_wrong_secret_or_key_and_a_missing_hash():
    now = int(time.time())
    body = livekit_body("EV_1", "participant_joined", "live-1", created_at=now, identity="budi")
    token = livekit_token(body, api_key=KEY, secret=SECRET, now=now)
    livekit.verify(token, body, secret=SECRET, api_key=KEY, now_ms=now * 1000)  # the genuine one passes
    flipped = body.replace(b"budi", b"bude")
    cases = {
        "flipped body": (token, flipped, SECRET, KEY),
        "wrong secret": (livekit_token(body, api_key=KEY, secret="not-the-secret", now=now), body, SECRET, KEY),
        "wrong api key": (livekit_token(body, api_key="APIother", secret=SECRET, now=now), body, SECRET, KEY),
        "no sha256": (jwt_hs256({"iss": KEY, "nbf": now, "exp": now + 300}, SECRET), body, SECRET, KEY),
        "no token": ("", body, SECRET, KEY),
        "forged": (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), body, SECRET, KEY),
    }
    for name, (auth, raw, secret, key) in cases.items():
        with pytest.raises(Unauthorized):
            livekit.verify(auth, raw, secret=secret, api_key=key, now_ms=now * 1000)
            pytest.fail(name)


NOW = 1_800_000_000
BODY = livekit_body("EV_1", "participant_joined", "live-1", created_at=NOW, identity="budi")
BODY_HASH = base64.b64encode(hashlib.sha256(BODY).digest()).decode()


def _refusal(token: str, now: int = NOW) -> str:
    """Why `verify` refuses the token over BODY."""
    with pytest.raises(Unauthorized) as refused:
        livekit.verify(token, BODY, secret=SECRET, api_key=KEY, now_ms=now * 1000)
    assert (refused.value.status, refused.value.field) == (401, "Authorization")
    return refused.value.message


def test_livekit_token_algorithm_is_pinned_to_hs256():
    claims = {"iss": KEY, "nbf": NOW, "exp": NOW + 300, "sha256": BODY_HASH}
    assert livekit.verify(jwt_hs256(claims, SECRET), BODY, secret=SECRET, api_key=KEY, now_ms=NOW * 1000) == claims
    unsigned = jwt_hs256(claims, SECRET, header={"alg": "none", "typ": "JWT"}).rpartition(".")[0] + "."
    relabelled = jwt_hs256(claims, SECRET, header={"alg": "none", "typ": "JWT"})  # the HMAC left on
    other = pyjwt.encode(claims, SECRET, algorithm="HS512")  # genuinely signed, with another algorithm
    for token in (unsigned, relabelled, other):
        assert _refusal(token) == "webhook token refused: The specified alg value is not allowed"


def test_livekit_token_times_have_a_minute_of_leeway():
    token = jwt_hs256({"iss": KEY, "nbf": NOW, "exp": NOW + 300, "sha256": BODY_HASH}, SECRET)
    for now in (NOW - 60, NOW, NOW + 360):  # within the leeway on either side
        livekit.verify(token, BODY, secret=SECRET, api_key=KEY, now_ms=now * 1000)
    assert _refusal(token, now=NOW + 361) == "webhook token refused: token expired"
    assert _refusal(token, now=NOW - 61) == "webhook token refused: token not valid yet"
    expired = jwt_hs256({"iss": KEY, "nbf": NOW - 3600, "exp": NOW - 3300, "sha256": BODY_HASH}, SECRET)
    assert _refusal(expired) == "webhook token refused: token expired"


def test_livekit_token_without_a_numeric_expiry_is_refused():
    for times in ({}, {"exp": str(NOW + 300)}, {"exp": True}, {"exp": NOW + 300, "nbf": "now"}):
        _refusal(jwt_hs256({"iss": KEY, "sha256": BODY_HASH, **times}, SECRET))


@pytest.mark.parametrize("bad", ["a.b", "a.b.c", "x" * 9000, "é.é.é", "Bearer", "eyJhbGciOiJIUzI1NiJ9..."])
def test_livekit_malformed_tokens_are_refused(bad):
    _refusal(bad)


def test_livekit_event_fields_are_read_from_protojson():
    event = livekit.parse(livekit_body("EV_9", "participant_left", "live-1", created_at=1_700_000_123,
                                       identity="siti"))
    assert event == livekit.WebhookEvent("EV_9", "participant_left", "live-1", "siti", 1_700_000_123_000)
    assert livekit.parse(b'{"id": "EV_2", "event": "room_finished", "room": {"name": "r"}, "createdAt": 17}') \
        .created_at_ms == 17_000
    for bad in (b'{"event": "room_started"}', b'{"id": "E", "event": "x", "createdAt": "soon"}', b"[1]"):
        with pytest.raises(BadRequest):
            livekit.parse(bad)
