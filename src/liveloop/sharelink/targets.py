"""Where a share code leads: cached in memory so the share link rarely touches the database."""

from __future__ import annotations

from dataclasses import dataclass
from string import punctuation
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from liveloop.sharelink.repository import TargetLookup

MAX_CACHED = 500_000


@dataclass(frozen=True, slots=True)
class ShareTarget:
    code: str
    tenant_id: str
    campaign_id: str
    owner: str
    landing: str | None = None  # a clip's link lands on the clip; others on the campaign's landing URL


class ShareTargets:
    def __init__(self, lookup: TargetLookup) -> None:
        self._lookup = lookup
        self._cache: dict[str, ShareTarget] = {}

    async def get(self, code: str) -> ShareTarget | None:
        target = self.cached(code)
        if target is not None:
            return target
        found = await self._lookup.target(code)
        if found is None:
            return None  # unknown codes are not cached: a code created a moment later must work
        target = ShareTarget(code, *found)
        self.remember(target)
        return target

    def cached(self, code: str) -> ShareTarget | None:
        """The target if it is in memory (None says nothing about the code: `get` looks it up)."""
        return self._cache.get(code)

    def remember(self, target: ShareTarget) -> None:
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[target.code] = target


def with_ref(landing_url: str, code: str | None) -> str:
    """The landing URL with `ll_ref=<code>` added; its own query is kept (an old ll_ref replaced).
    Without a code (a cancelled campaign), the landing URL with no `ll_ref` at all."""
    parts = urlsplit(landing_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ll_ref"]
    if code is not None:
        query.append(("ll_ref", code))
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
    # A Location header holds printable ASCII only: anything else (in a landing URL stored before
    # that was required) is percent-encoded, or the server would drop the connection instead.
    return quote(url, safe=punctuation)
