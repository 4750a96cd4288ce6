"""The fraud signals of SPEC section 10 and the risk they add up to, over in-memory state per tenant.

`TenantSignals` is maintained incrementally as events are applied (devices per user, users per
device, addresses per user, devices per address over 24 hours, the referral graph, the velocity of
each referrer's referees), so judging a referral is a few dictionary and set look-ups: no query per
event. What it decides is logged (a `fraud_check` event), so a replay never recomputes it.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any

from disposable_email_domains import blocklist as _DISPOSABLE

from liveloop.engine.model import FRAUD_SIGNALS

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MINUTE_MS = 60_000
SHARED_DEVICES = 20  # an address used by this many distinct devices within 24 hours is shared
CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NONE: frozenset[str] = frozenset()

# Each signal's weight; the risk is their sum, at most 100 (docs/fraud.md explains each).
WEIGHTS: dict[str, int] = {
    "blocklist": 100,
    "same_device": 60,
    "email_alias": 60,
    "ring": 60,
    "device_farm": 40,
    "disposable_email": 50,
    "velocity": 40,
    "same_ip": 30,
}
assert set(WEIGHTS) == set(FRAUD_SIGNALS)


def risk_of(codes: list[str]) -> int:
    return min(100, sum(WEIGHTS[code] for code in codes))


def to_mask(codes: list[str]) -> str:
    """The codes as the bit mask a `fraud_check` event carries (engine/model.py `signal_codes` reads it)."""
    return str(sum(1 << FRAUD_SIGNALS.index(code) for code in codes))


@dataclass(slots=True)
class Blocklist:
    devices: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    email_domains: frozenset[str] = frozenset()

    def blocks_ip(self, ip: str) -> bool:
        if not self.networks:
            return False
        address = _address(ip)
        return address is not None and any(address in net for net in self.networks)


@dataclass(slots=True)
class Signal:
    code: str
    detail: str


# Every detail a signal can carry, by a key of its own: the API gives the English text; the console reads
# the key and values back from it (`explain`) to say the same in the operator's language.
DETAILS: dict[str, str] = {
    "same_device": "device {device} was used by both",
    "device_farm": "device {device} is used by {users} users",
    "same_ip": "address {address} was used by both",
    "email_alias.referrer": "the same normalized email as the referrer",
    "email_alias.referee": "the same normalized email as another referee of the referrer",
    "disposable_email": "{domain} is a disposable mail domain",
    "velocity": "{count} referees within one minute",
    "ring.direct": "the referee referred the referrer",
    "ring.via": "the referee referred the referrer through {user}",
    "blocklist.device": "device {device} is on the blocklist",
    "blocklist.network": "address {address} is in a blocked network",
    "blocklist.email_domain": "email domain {domain} is on the blocklist",
}


def _signal(code: str, key: str, **values: object) -> Signal:
    return Signal(code, DETAILS[key].format_map(values))


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name, ..., literal
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+)" for i, part in enumerate(parts))
                      + r"\Z", re.DOTALL)


_PATTERNS = {key: _pattern(template) for key, template in DETAILS.items()}


def explain(detail: str) -> tuple[str, dict[str, str]] | None:
    """The key of DETAILS a detail was written from, and its values; None for a text not written from one
    (a review stored before its wording changed)."""
    for key, pattern in _PATTERNS.items():
        found = pattern.match(detail)
        if found is not None:
            return key, found.groupdict()
    return None


# Most viewers have one device, one address and one referrer, and most devices and addresses one
# viewer: an index keeps a single member as the plain string and makes a set only for a second one
# (measured over 100,000 viewers: 1,520 bytes and 46 µs per viewer with a set each, 530 bytes and 24
# µs with this).
Members = str | set[str]


def _add(index: dict[str, Members], key: str, value: str) -> None:
    current = index.get(key)
    if current is None:
        index[key] = value
    elif type(current) is str:
        if current != value:
            index[key] = {current, value}
    else:
        current.add(value)


def _members(index: dict[str, Members], key: str) -> set[str] | frozenset[str]:
    current = index.get(key)
    if current is None:
        return _NONE
    return frozenset((current,)) if type(current) is str else current


def _count(index: dict[str, Members], key: str) -> int:
    current = index.get(key)
    if current is None:
        return 0
    return 1 if type(current) is str else len(current)


@dataclass(slots=True)
class TenantSignals:
    """What one tenant's events taught about devices, addresses, emails and who referred whom."""

    devices_of: dict[str, Members] = field(default_factory=dict)
    users_of_device: dict[str, Members] = field(default_factory=dict)
    ips_of: dict[str, Members] = field(default_factory=dict)
    # address -> (device, last `at`) for one device, {device: last `at`} for more
    ip_devices: dict[str, tuple[str, int] | dict[str, int]] = field(default_factory=dict)
    referrers_of: dict[str, Members] = field(default_factory=dict)  # referee -> referrers (any campaign)
    referee_emails: dict[str, set[str]] = field(default_factory=dict)  # referrer -> referees' email hashes
    emails: dict[str, tuple[str, str]] = field(default_factory=dict)  # user -> (hash, domain)
    # (campaign, referrer) -> its referees' attribution times, sorted (events arrive in any order of `at`)
    referee_times: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    blocklist: Blocklist = field(default_factory=Blocklist)
    blocklist_read_at: int = 0
    last_seq: int = 0  # the log position the state has learnt up to (several processes)
    caught_up_at: int = 0
    first_touch: Any = None  # with several processes: fraud/screen.py's first-touch bookkeeping

    def observe(self, user_id: str, device_id: str | None, ip: str | None, at: int) -> None:
        """A user's event, with the device and address it came from."""
        if device_id is not None:
            _add(self.devices_of, user_id, device_id)
            _add(self.users_of_device, device_id, user_id)
        if ip is not None:
            _add(self.ips_of, user_id, ip)
            if device_id is not None:
                seen = self.ip_devices.get(ip)
                if seen is None:
                    self.ip_devices[ip] = (device_id, at)
                elif type(seen) is tuple:
                    if seen[0] == device_id:
                        if seen[1] < at:
                            self.ip_devices[ip] = (device_id, at)
                    else:
                        self.ip_devices[ip] = {seen[0]: seen[1], device_id: at}
                else:
                    last = seen.get(device_id)
                    if last is None or last < at:
                        seen[device_id] = at

    def add_referral(self, referee: str, referrer: str) -> None:
        _add(self.referrers_of, referee, referrer)

    def shared(self, ip: str, at: int) -> bool:
        """Carrier-grade NAT, or an address that 20 or more distinct devices used within 24 hours of `at`."""
        address = _address(ip)
        if address is not None and address.version == 4 and address in CGNAT:
            return True
        seen = self.ip_devices.get(ip)
        if seen is None or type(seen) is tuple or len(seen) < SHARED_DEVICES:
            return False
        since = at - DAY_MS
        return sum(1 for last in seen.values() if last >= since) >= SHARED_DEVICES

    def assess(self, *, campaign_id: str, referee: str, referrer: str, at: int,
               velocity_per_minute: int) -> list[Signal]:
        """The signals of the referral (referrer -> referee), then records it in the graph."""
        found: list[Signal] = []
        mine = _members(self.devices_of, referee)
        theirs = _members(self.devices_of, referrer)
        common = mine & theirs if mine and theirs else _NONE
        if common:
            found.append(_signal("same_device", "same_device", device=min(common)))
        farmed = [d for d in mine if _count(self.users_of_device, d) >= 3]
        if farmed:
            device = min(farmed)
            users = _count(self.users_of_device, device)
            found.append(_signal("device_farm", "device_farm", device=device, users=users))
        my_ips = _members(self.ips_of, referee)
        their_ips = _members(self.ips_of, referrer)
        shared_ips = [ip for ip in my_ips & their_ips if not self.shared(ip, at)] if my_ips and their_ips else ()
        if shared_ips:
            found.append(_signal("same_ip", "same_ip", address=min(shared_ips)))
        email = self.emails.get(referee)
        if email is not None:
            theirs_email = self.emails.get(referrer)
            if theirs_email is not None and theirs_email[0] == email[0]:
                found.append(_signal("email_alias", "email_alias.referrer"))
            elif email[0] in self.referee_emails.get(referrer, ()):
                found.append(_signal("email_alias", "email_alias.referee"))
            if disposable(email[1]):
                found.append(_signal("disposable_email", "disposable_email", domain=email[1]))
        times = self.referee_times.get((campaign_id, referrer))
        if times is None:
            times = self.referee_times[(campaign_id, referrer)] = []
        insort(times, at)
        within = _busiest_minute(times, at, velocity_per_minute)
        if within > velocity_per_minute:
            found.append(_signal("velocity", "velocity", count=within))
        upstream = _members(self.referrers_of, referrer)
        if referee in upstream:
            found.append(_signal("ring", "ring.direct"))
        else:
            via = sorted(x for x in upstream if referee in _members(self.referrers_of, x))
            if via:
                found.append(_signal("ring", "ring.via", user=via[0]))
        blocklist = self.blocklist
        blocked = (self._blocked(referee, mine, my_ips, email)
                   if blocklist.devices or blocklist.networks or blocklist.email_domains else None)
        if blocked:
            found.append(Signal("blocklist", blocked))
        self.add_referral(referee, referrer)
        if email is not None:
            self.referee_emails.setdefault(referrer, set()).add(email[0])
        return found

    def _blocked(self, user_id: str, devices: set[str], ips: set[str], email: tuple[str, str] | None) -> str | None:
        blocklist = self.blocklist
        hit = devices & blocklist.devices
        if hit:
            return DETAILS["blocklist.device"].format(device=min(hit))
        for ip in sorted(ips):
            if blocklist.blocks_ip(ip):
                return DETAILS["blocklist.network"].format(address=ip)
        if email is not None and email[1] in blocklist.email_domains:
            return DETAILS["blocklist.email_domain"].format(domain=email[1])
        return None

    def forget_older(self, before: int) -> None:
        """Drop address use older than `before` (kept to 24 hours for shared-network detection)."""
        for ip in list(self.ip_devices):
            seen = self.ip_devices[ip]
            if type(seen) is tuple:
                if seen[1] < before:
                    del self.ip_devices[ip]
                continue
            for device in [d for d, last in seen.items() if last < before]:
                del seen[device]
            if not seen:
                del self.ip_devices[ip]


def _busiest_minute(times: list[int], at: int, limit: int) -> int:
    """The most referees in a one-minute window that contains `at` (times sorted; events arrive in any
    order of `at`, so a window may have filled before or after this one). Stops past `limit`."""
    best = 0
    first = bisect_left(times, at - MINUTE_MS + 1)
    last = bisect_left(times, at + 1)
    for i in range(first, last):
        count = bisect_left(times, times[i] + MINUTE_MS) - i
        if count > best:
            best = count
            if best > limit:
                break
    return best


def disposable(domain: str | None) -> bool:
    """On the maintained list of disposable mail domains (package `disposable-email-domains`)."""
    return domain is not None and domain in _DISPOSABLE


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None
