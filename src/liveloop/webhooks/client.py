"""The HTTP client that makes webhook attempts: aiohttp, connecting only to addresses the URL check allowed.

Why aiohttp: an attempt runs on the event loop that also serves the API, so its cost is taken from
ingestion. Measured on this project's 2-core machine, one POST to a local receiver (16 at once) cost
the loop about 110 µs of CPU with aiohttp against 1,700 to 2,000 µs with httpx, whose connection
pool checks every pooled connection with system calls on each request (docs/benchmarks.md,
"Webhook messages only for endpoints that take them").

Why a resolver of our own: the URL is checked just before each attempt (urls.check), and the
connection then goes to the very addresses that check saw and allowed (`CheckedResolver`), so a
name that answers differently a moment later (DNS rebinding) cannot lead into a private network.
"""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from liveloop import __version__
from liveloop.webhooks import urls

# What an attempt can fail with, besides a timeout (webhooks/worker.py, which imports aiohttp only through this).
ClientError = aiohttp.ClientError

# A receiver's answer is read up to this much (so that its connection can be reused), never more.
MAX_ANSWER_BYTES = 64 * 1024


class CheckedResolver(AbstractResolver):
    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        addresses = await urls.addresses(host, port, allow_private=self._allow_private)
        return [ResolveResult(hostname=host, host=address, port=port,
                              family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST) for address in addresses]

    async def close(self) -> None:
        return None


def new_session(*, allow_private: bool, concurrency: int, timeout_seconds: float) -> aiohttp.ClientSession:
    """One session per process (its connections are kept alive between attempts)."""
    connector = aiohttp.TCPConnector(limit=concurrency, resolver=CheckedResolver(allow_private=allow_private))
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_seconds),
                                 headers={"user-agent": f"liveloop-webhooks/{__version__}"}, auto_decompress=False)


async def post(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url` without following redirects; the status code answered."""
    async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
        read = 0
        while read <= MAX_ANSWER_BYTES:
            chunk = await response.content.readany()
            if not chunk:
                break
            read += len(chunk)
        return response.status
