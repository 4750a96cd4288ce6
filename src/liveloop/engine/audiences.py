"""Who may earn from a rule with an `audience`: the members of a segment's version, handed to the engine.

A segment's versions never change (segments/service.py writes a new one for each change) and a
campaign's rule names the version it was created or changed with, so a rule's audience is fixed
data, like the rest of the configuration: a replay, here or in another process, decides the same.
The storage layer and the API put a version's members here before a state needs them (`put`); the
engine only reads them.
"""

from __future__ import annotations

Pin = tuple[str, str, int]  # (tenant_id, segment_id, version)


class Audiences:
    def __init__(self) -> None:
        self._members: dict[Pin, frozenset[str]] = {}

    def has(self, pin: Pin) -> bool:
        return pin in self._members

    def put(self, pin: Pin, members: frozenset[str]) -> None:
        self._members[pin] = members

    def forget(self, tenant_id: str) -> None:
        """Drop the tenant's versions: an erasure rewrote a member's id in them (privacy/erasure.py),
        so they are read again, pseudonym included, before a state needs them."""
        for pin in [pin for pin in self._members if pin[0] == tenant_id]:
            del self._members[pin]

    def members(self, pin: Pin) -> frozenset[str]:
        """LookupError when the version was not put here first: deciding without it would differ."""
        found = self._members.get(pin)
        if found is None:
            raise LookupError(f"segment {pin[1]!r} version {pin[2]} of tenant {pin[0]!r} is not loaded")
        return found


# One per process: versions are immutable, so every campaign state may share them.
KNOWN = Audiences()
