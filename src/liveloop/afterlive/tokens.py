"""The sharer's results page token: `/t/{token}` opens one (tenant, campaign, user)'s page, no login.

Signed like viewer tokens (realtime/tokens.py), under a domain of its own so that neither kind can be
passed off as the other. It holds no secret of its own: what makes it unguessable is the server's
MAC, and what it grants is reading the report `GET .../sharers/{uid}/report` shows anyway. It is
valid for PAGE_DAYS after the campaign's end (or after it is made, for a campaign long over): long
enough to come back for the next live.
"""

from __future__ import annotations

from dataclasses import dataclass

from liveloop.kit.errors import Unauthorized
from liveloop.kit.times import DAY_MS
from liveloop.realtime.tokens import seal, verify_claims

PAGE_DAYS = 90
_DOMAIN = b"liveloop-sharer-page|"


@dataclass(frozen=True, slots=True)
class PageToken:
    tenant_id: str
    campaign_id: str
    user_id: str


def page_token(secret: str, *, tenant_id: str, campaign_id: str, user_id: str, ends_at: int, now: int) -> str:
    return seal(secret, _DOMAIN, {"t": tenant_id, "c": campaign_id, "u": user_id},
                expires_at=max(ends_at, now) + PAGE_DAYS * DAY_MS)


def read_page_token(secret: str, token: str, *, now: int) -> PageToken:
    """The page a token opens; Unauthorized when it is malformed, forged or expired."""
    claims = verify_claims(secret, _DOMAIN, token, now=now, what="page link", expired="page link expired")
    page = PageToken(claims.get("t"), claims.get("c"), claims.get("u"))
    if not all(isinstance(v, str) for v in (page.tenant_id, page.campaign_id, page.user_id)):
        raise Unauthorized("malformed page link", field="token")
    return page
