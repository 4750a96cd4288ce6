"""Client addresses behind proxies: `X-Forwarded-For` is believed only from LIVELOOP_TRUSTED_PROXIES.

Rate limits count per client address and share-link clicks keep it as a fraud signal, so a client
able to name its own address could slip both. The header is believed only when the connection
comes from a listed proxy (addresses or CIDR networks; none by default, so that a process reached
directly cannot be fooled), and then the address taken is the last one in the chain that is not a
listed proxy: whatever a client writes into the header itself comes before that and is ignored.
uvicorn's own middleware does the rewriting; its default trust of 127.0.0.1 is not used.
"""

from __future__ import annotations

import functools
import ipaddress

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def parse(value: str | None) -> list[str]:
    """The proxies listed in LIVELOOP_TRUSTED_PROXIES (commas or spaces between them); ValueError if one
    is neither an address nor a network."""
    listed = [item for item in (value or "").replace(",", " ").split() if item]
    for item in listed:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"LIVELOOP_TRUSTED_PROXIES: {item!r} is neither an IP address nor a CIDR network") \
                from None
    return listed


class TrustedProxies:
    def __init__(self, listed: list[str]) -> None:
        self._networks = [ipaddress.ip_network(item, strict=False) for item in listed]

    def __bool__(self) -> bool:
        return bool(self._networks)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one instance per process, a few proxy addresses
    def __contains__(self, host: str | None) -> bool:
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self._networks)


def behind(app, listed: list[str]):
    """`app` taking the client's address from `X-Forwarded-For` when a listed proxy sent it."""
    return ProxyHeadersMiddleware(app, trusted_hosts=listed) if listed else app


class ClientAddress:
    """A client's address as `behind`'s middleware would set it, for the requests the HTTP protocol answers
    before any ASGI app sees them (ops/serving.py): the same trusted hosts decide, by the same code."""

    def __init__(self, listed: list[str]) -> None:
        self._trusted = ProxyHeadersMiddleware(None, trusted_hosts=listed).trusted_hosts if listed else None

    def __call__(self, client: tuple | None, headers: list[tuple[bytes, bytes]]) -> str | None:
        host = client[0] if client else None
        trusted = self._trusted
        if trusted is None or host not in trusted:
            return host
        forwarded = [value for name, value in headers if name == b"x-forwarded-for"]
        if forwarded:
            found, _port = trusted.get_trusted_client_address(b", ".join(forwarded).decode("latin1"))
            if found:  # an empty header names nobody: the proxy's own address stays
                return found
        return host
