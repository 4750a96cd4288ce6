"""The limits a client can rely on (docs/security.md), in one place.

Each is checked at the edge, before any arithmetic or storage, so that nothing a client sends costs
more than a moment of the event loop and nothing accepted fails to fit its column later: a value the
database refused would fail the whole group commit it was written in.
"""

from __future__ import annotations

# Request bodies, every endpoint: larger ones are refused with 413 before they are parsed.
MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH_EVENTS = 1000
# Segment member lists (PUT /v1/segments/{sid}, POST .../members): up to 100,000 user ids of up to
# 128 characters a call do not fit 1 MiB; those two endpoints read up to this much.
MAX_SEGMENT_BODY_BYTES = 16 * 1024 * 1024

# Money: ASCII decimal text, at most 13 digits before the point and 6 after ("1234.50"); order
# amounts may also be JSON integers below 10^13. No sign, exponent, spaces, separators or other
# digits than 0-9.
AMOUNT_INT_DIGITS = 13
AMOUNT_FRAC_DIGITS = 6
# Every amount kept in minor units, converted values included, stays at or below this: it fits the
# signed 64-bit columns (9.2 * 10^18). Input amounts reach at most 10^17 (13 digits, exponent 4).
MAX_MINOR = 10**18 - 1

# Percentages (commission, percent off): 0 < p <= 100, at most 6 decimals.
PERCENT_FRAC_DIGITS = 6
# FX rates: 0 < rate < 10^9, at most 12 decimals.
RATE_INT_DIGITS = 9
RATE_FRAC_DIGITS = 12

# Counts a campaign names (milestone tiers, max_per_referrer, draw at_least, points).
MAX_COUNT = 10**9

# A user's consents: named by short keys, at most this many in all.
MAX_CONSENTS = 32

# Instants: local years 1970 to 9998, always with a UTC offset or Z.
MIN_YEAR = 1970
MAX_YEAR = 9998
# The window of a campaign with an hourly draw (one draw period per hour).
MAX_HOURLY_DRAW_DAYS = 31
