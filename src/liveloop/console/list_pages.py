"""Pages of a list the console holds in memory (a campaign's referrers, from its live state), by keyset.

The rows come sorted in a total order (the sort column, then the user id); a page is the rows after
the row a `cursor` names (or before the row `before` names), so the next page starts where the
previous one ended even when counts moved meanwhile. The SQL lists page with kit/db/keyset.py; this is
the same contract for rows that are not in a table.
"""

from __future__ import annotations

from liveloop.kit.db.keyset import Page


def page(rows: list[dict], *, key: str, limit: int, position: dict[str, str]) -> Page:
    """`limit` rows of `rows` (sorted; `key` unique per row): the first, those after `position["cursor"]`, or
    those just before `position["before"]`. A position naming no row reads as the first page."""
    index = {row[key]: n for n, row in enumerate(rows)}
    if "cursor" in position and position["cursor"] in index:
        start = index[position["cursor"]] + 1
        end = start + limit
    elif "before" in position and position["before"] in index:
        end = index[position["before"]]
        start = max(0, end - limit)
    else:
        start, end = 0, limit
    shown = rows[start:end]
    previous = (shown[0][key],) if start > 0 and shown else None
    after = (shown[-1][key],) if end < len(rows) and shown else None
    return Page(shown, previous, after)
