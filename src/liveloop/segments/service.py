"""Segments (seed users): their SQL, the audiences campaign rules pin, and a past campaign's top sharers.

A segment is a list of user ids, given (`user_ids`, up to 100,000 per call) or taken `from` a past
campaign's top N by a metric. Each change writes a new version; the old ones stay, because a rule's
`audience` names the version it was set with (`pin`): a segment changed later does not change who
earned from a campaign already running, and a replay decides as the first run did.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import sqlalchemy as sa

from liveloop.engine.audiences import Audiences
from liveloop.engine.state import CampaignState
from liveloop.kit.db.bulk import BulkInsert
from liveloop.kit.errors import Invalid, NotFound
from liveloop.kit.times import iso
from liveloop.segments.models import segment_members, segments

MAX_USERS_PER_CALL = 100_000
s, m = segments.c, segment_members.c


def _insert_members(conn: sa.Connection, tenant_id: str, segment_id: str, version: int, users: Iterable[str]) -> None:
    insert = BulkInsert(conn.dialect.name, segment_members, ("tenant_id", "segment_id", "version", "user_id"))
    rows = [(tenant_id, segment_id, version, user) for user in users]
    for start in range(0, len(rows), 20_000):
        insert(conn, rows[start:start + 20_000])


def _row(conn: sa.Connection, tenant_id: str, segment_id: str):
    return conn.execute(sa.select(s.name, s.version, s.source, s.size, s.created_at, s.updated_at).where(
        s.tenant_id == tenant_id, s.id == segment_id)).first()


def members(conn: sa.Connection, *, tenant_id: str, segment_id: str, version: int) -> frozenset[str]:
    return frozenset(conn.execute(sa.select(m.user_id).where(
        m.tenant_id == tenant_id, m.segment_id == segment_id, m.version == version)).scalars())


def put(conn: sa.Connection, *, tenant_id: str, segment_id: str, name: str, user_ids: list[str], source: dict,
        add: bool, now: int) -> tuple[dict, bool]:
    """Write the segment's next version: `user_ids` (with the current members too when `add`).
    Returns (the segment, whether it was created)."""
    row = _row(conn, tenant_id, segment_id)
    version = 1 if row is None else row.version + 1
    users = dict.fromkeys(user_ids)
    if add and row is not None:
        users = dict.fromkeys([*sorted(members(conn, tenant_id=tenant_id, segment_id=segment_id,
                                               version=row.version)), *users])
    _insert_members(conn, tenant_id, segment_id, version, users)
    values = {"name": name, "version": version, "source": orjson.dumps(source).decode(), "size": len(users),
              "updated_at": now}
    if row is None:
        conn.execute(segments.insert().values(tenant_id=tenant_id, id=segment_id, created_at=now, **values))
    else:
        conn.execute(segments.update().where(s.tenant_id == tenant_id, s.id == segment_id).values(**values))
    return get(conn, tenant_id=tenant_id, segment_id=segment_id), row is None


def get(conn: sa.Connection, *, tenant_id: str, segment_id: str) -> dict:
    row = _row(conn, tenant_id, segment_id)
    if row is None:
        raise NotFound(f"segment {segment_id!r} not found", code="segment.not_found")
    return {"id": segment_id, "name": row.name, "version": row.version, "members": row.size,
            "source": orjson.loads(row.source), "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def contains(conn: sa.Connection, *, tenant_id: str, segment_id: str, user_ids: list[str]) -> list[str]:
    """Those of `user_ids` in the segment's current version."""
    row = _row(conn, tenant_id, segment_id)
    if row is None:
        raise NotFound(f"segment {segment_id!r} not found", code="segment.not_found")
    return list(conn.execute(sa.select(m.user_id).where(
        m.tenant_id == tenant_id, m.segment_id == segment_id, m.version == row.version,
        m.user_id.in_(user_ids))).scalars())


# -- a past campaign's top N ------------------------------------------------------------------

def top_referrers(state: CampaignState, metric: str, top: int) -> list[str]:
    """The campaign's referrers with the highest `metric`, ranked like its leaderboard (who reached
    the score first, then user id); users with 0 are not taken."""
    ranked = []
    for user_id, stats in state.referrers.items():
        value = stats.metric(metric)
        if value > 0:
            ranked.append((-value, stats.reached_at(metric), user_id))
    ranked.sort()
    return [user_id for _v, _at, user_id in ranked[:top]]


# -- audiences of campaign rules ----------------------------------------------------------------

def audience_segments(rules: Iterable[dict]) -> set[str]:
    return {r["audience"]["segment"] for r in rules if r.get("audience")}


def pin(conn: sa.Connection, *, tenant_id: str, rules: list[dict], field: str = "rules") -> None:
    """Give each rule's `audience` without a version the segment's current one (422 for an unknown segment)."""
    for index, rule in enumerate(rules):
        audience = rule.get("audience")
        if not audience:
            continue
        row = _row(conn, tenant_id, audience["segment"])
        if row is None:
            raise Invalid(f"rule {rule.get('id')!r} names an unknown segment {audience['segment']!r} as its audience "
                          "(create it first with PUT /v1/segments/{sid})", code="audience.unknown_segment",
                          field=f"{field}.{index}.audience.segment")
        if audience.get("version") is None:
            audience["version"] = row.version
        elif audience["version"] > row.version:
            raise Invalid(f"segment {audience['segment']!r} has no version {audience['version']} (its latest is "
                          f"{row.version})", code="audience.unknown_version", field=f"{field}.{index}.audience.version")


def pin_and_warm(conn: sa.Connection, book: Audiences, *, tenant_id: str, rules: list[dict]) -> None:
    """`pin` the rules' audiences, then `warm` the book with them: before a state is configured with them."""
    pin(conn, tenant_id=tenant_id, rules=rules)
    warm(conn, book, tenant_id=tenant_id, bodies=[{"rules": rules}])


def warm(conn: sa.Connection, book: Audiences, *, tenant_id: str, bodies: Iterable[dict]) -> None:
    """Put the members of every segment version the campaign bodies' rules pin into `book`."""
    for body in bodies:
        for rule in body.get("rules") or ():
            audience = rule.get("audience")
            if not audience:
                continue
            key = (tenant_id, audience["segment"], audience["version"])
            if not book.has(key):
                book.put(key, members(conn, tenant_id=tenant_id, segment_id=key[1], version=key[2]))


def segment_report(state: CampaignState, members_of: dict[str, frozenset[str]], money) -> dict:
    """The report's `segments` block: per segment, how its members shared and what their referees did."""
    out = {}
    for segment_id, people in members_of.items():
        sharing = referees = orders = gmv = 0
        for user_id in people:
            stats = state.referrers.get(user_id)
            participant = state.participants.get(user_id)
            shared = (participant is not None and participant.shares > 0) or (
                stats is not None and (stats.clicks > 0 or stats.referees > 0))
            sharing += shared
            if stats is not None:
                referees += stats.referees
                orders += len(stats.order_times)
                gmv += stats.gmv
        out[segment_id] = {"members": len(people), "sharing": sharing, "referees": referees, "orders": orders,
                           "gmv": money(gmv)}
    return out
