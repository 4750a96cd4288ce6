"""Keyset pages, forward and backward: the rows after a position in a list's order, or the rows before it.

A list that grows without bound (reviews, questions) is paged by the position of a row (its sort
keys) rather than by an offset, so a page deep in a long list costs the same as the first and a row
added or removed meanwhile shifts nothing. Going back is the same query with the order reversed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

# A sort key: the column and whether it sorts descending.
Key = tuple[sa.ColumnElement[Any], bool]
Position = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict]
    previous: Position | None  # where the page before this one ends (read it with backward=True), if any
    next: Position | None  # where the page after this one starts (read it forward), if any


def _beyond(keys: Sequence[Key], at: Position, *, forward: bool) -> sa.ColumnElement[bool]:
    """Rows strictly after `at` in the list's order (before it when not `forward`)."""
    # Bound values, typed as their columns: SQLAlchemy refuses `<` against a bare True or False.
    values = [sa.literal(value, column.type) for (column, _descending), value in zip(keys, at, strict=True)]
    clauses = []
    for i, (column, descending) in enumerate(keys):
        step = column > values[i] if descending != forward else column < values[i]
        clauses.append(sa.and_(*(keys[j][0] == values[j] for j in range(i)), step))
    return sa.or_(*clauses)


def _order(keys: Sequence[Key], *, forward: bool) -> list[sa.ColumnElement[Any]]:
    return [column.desc() if descending == forward else column.asc() for column, descending in keys]


def page(conn: sa.Connection, query: sa.Select, keys: Sequence[Key], *, position_of: Callable[[dict], Position],
         limit: int, at: Position | None = None, backward: bool = False) -> Page:
    """`limit` rows of `query` in the order of `keys` (whose last key is unique): the first ones, those
    after `at`, or (`backward`) those just before `at`; with the positions that lead to the neighbours."""
    forward = not backward or at is None
    ordered = query if at is None else query.where(_beyond(keys, at, forward=forward))
    rows = [dict(row) for row in conn.execute(ordered.order_by(*_order(keys, forward=forward)).limit(limit + 1))
            .mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()

    def any_beyond(edge: Position, *, ahead: bool) -> bool:
        found = conn.execute(query.where(_beyond(keys, edge, forward=ahead)).limit(1)).first()
        return found is not None

    if forward:
        after = position_of(rows[-1]) if more else None
        edge = position_of(rows[0]) if rows else at
        before = edge if edge is not None and any_beyond(edge, ahead=False) else None
    else:
        before = position_of(rows[0]) if more else None
        edge = position_of(rows[-1]) if rows else at
        after = edge if edge is not None and any_beyond(edge, ahead=True) else None
    return Page(rows, before, after)
