"""Which endpoint URLs liveloop sends to: https on public addresses (no SSRF into the operator's network).

`LIVELOOP_WEBHOOKS_ALLOW_PRIVATE` (development and tests) also allows http and loopback or private
addresses. The address is checked when the endpoint is created and again before every attempt, so a
name that later resolves into a private network is refused then too.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool

from liveloop.kit.errors import Invalid


class Refused(Exception):
    """The URL may not be sent to; the message says why."""


def parse(url: str, *, allow_private: bool) -> tuple[str, int]:
    """(host, port) of an endpoint URL, or Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a URL: {exc}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise Refused("must be an https URL" if not allow_private else "must be an http or https URL")
    if not parts.hostname:
        raise Refused("has no host")
    if parts.username or parts.password:
        raise Refused("must not carry credentials")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or ip in ipaddress.ip_network("100.64.0.0/10"))


# Answers kept this long, so a burst of deliveries to one endpoint asks the resolver once.
RESOLVED_SECONDS = 30.0
_resolved: dict[tuple[str, int], tuple[float, list[str]]] = {}


def _resolve(host: str, port: int) -> list[str]:
    now = time.monotonic()
    cached = _resolved.get((host, port))
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"host {host!r} does not resolve ({exc})") from None
    addresses = sorted({info[4][0] for info in found})
    if len(_resolved) > 10_000:
        _resolved.clear()
    _resolved[(host, port)] = (now + RESOLVED_SECONDS, addresses)
    return addresses


async def check(url: str, *, allow_private: bool) -> None:
    """Refused unless `url` may be sent to now (DNS is resolved in a worker thread)."""
    host, port = parse(url, allow_private=allow_private)
    await addresses(host, port, allow_private=allow_private)


async def addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses `host` resolves to, Refused if any may not be sent to (the client connects to these)."""
    cached = _resolved.get((host, port))
    if cached is not None and cached[0] > time.monotonic():
        found = cached[1]
    else:
        found = await run_in_threadpool(_resolve, host, port)
    if not allow_private:
        bad = [a for a in found if _private(a)]
        if bad:
            raise Refused(f"resolves to a loopback, private, link-local or multicast address ({bad[0]})")
    return found


async def check_field(url: str, *, allow_private: bool) -> None:
    """`check` as the API's 422 on `url`."""
    try:
        await check(url, allow_private=allow_private)
    except Refused as exc:
        raise Invalid(f"url {exc}", field="url") from None
