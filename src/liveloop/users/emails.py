"""Users' emails as liveloop keeps them (for fraud signals): a normalized hash and the domain, never the address."""

from __future__ import annotations

import hashlib

# Gmail ignores dots in the local part; its two domains are one mailbox.
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def normalize(email: str) -> tuple[str, str]:
    """(hex SHA-256 of the normalized address, domain): lower case, `+tag` dropped, gmail dots dropped."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    canonical_domain = _DOTLESS.get(domain)
    if canonical_domain is not None:
        local = local.replace(".", "")
        domain_for_hash = canonical_domain
    else:
        domain_for_hash = domain
    digest = hashlib.sha256(f"{local}@{domain_for_hash}".encode()).hexdigest()
    return digest, domain
